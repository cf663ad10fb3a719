/**
 * The storage contract of the hot write, run against both backends (the
 * SQLite `MessageWriter` and `PgMessageStore`): whatever the batches, every
 * message gets a row in batch order, a resent client_msg_id (in the database,
 * or earlier in the same batch) is answered by its first row and stores
 * nothing, a failing batch stores nothing, and the rows are there for
 * `SqlClient` to read. On PostgreSQL, also: ids are in commit order with
 * several writers at once (a reader never sees an id appear below one it has
 * already seen).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Context, Effect, Exit, FastCheck as fc, Fiber, Layer } from "effect"
import { MessageStore, type PendingMessage, type StoredRow } from "../src/MessageStore.ts"
import { SqliteMessageStore } from "../src/MessageWriter.ts"
import { PgDatabase } from "../src/PgDatabase.ts"
import { PgMessageStore } from "../src/PgMessageStore.ts"
import { ServerConfig } from "../src/ServerConfig.ts"
import { SqliteDatabase } from "../src/SqliteDatabase.ts"
import { freshPgDatabase, postgresAvailable } from "./support/Postgres.ts"
import { tempDb } from "./support/ServerProcess.ts"

const USERS = 3

const onDb = (db: string) => ServerConfig.layer({ db })

const backends = [
  {
    name: "SQLite",
    available: true,
    runs: 100,
    storage: Layer.unwrapScoped(
      Effect.map(tempDb, (db) => SqliteMessageStore.pipe(Layer.provideMerge(SqliteDatabase), Layer.provide(onDb(db))))
    )
  },
  {
    name: "PostgreSQL",
    available: postgresAvailable,
    runs: 100,
    storage: Layer.unwrapScoped(
      Effect.map(freshPgDatabase, (db) => PgMessageStore.pipe(Layer.provideMerge(PgDatabase), Layer.provide(onDb(db))))
    )
  }
] as const

interface Send {
  readonly sender: number
  readonly receiver: number | null
  readonly key: string | undefined
}

const send: fc.Arbitrary<Send> = fc.record({
  sender: fc.integer({ min: 1, max: USERS }),
  receiver: fc.option(fc.integer({ min: 1, max: USERS }), { nil: null }),
  key: fc.option(fc.constantFrom("a", "b", "c", "d"), { nil: undefined })
})

const pending = (s: Send, text: string): PendingMessage => ({
  senderId: s.sender,
  receiverId: s.receiver,
  roomId: null,
  text,
  clientMsgId: s.key,
  done: () => {}
})

const addUsers = (sql: SqlClient.SqlClient) =>
  Effect.forEach(
    Array.from({ length: USERS }, (_, i) => i + 1),
    (i) => sql`INSERT INTO users (id, username, password_hash, created_at) VALUES (${i}, ${`u${i}`}, 'x', 'now')`,
    { discard: true }
  )

for (const backend of backends) {
  describe.skipIf(!backend.available)(`MessageStore on ${backend.name}`, () => {
    it.scopedLive.prop(
      "one row per message in batch order; a resent client_msg_id gets its first row and stores nothing [100 runs]",
      [fc.array(fc.array(send, { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 8 })],
      ([batches]) =>
        Effect.gen(function*() {
          const sql = yield* SqlClient.SqlClient
          yield* addUsers(sql)
          const writer = yield* MessageStore
          const first = new Map<string, StoredRow>()
          let lastId = 0
          let fresh = 0
          for (const [b, batch] of batches.entries()) {
            const timestamp = `2026-01-01T00:00:0${b}.000Z`
            const messages = batch.map((s, i) => pending(s, `b${b}m${i}`))
            const rows = yield* writer.store(messages, timestamp)
            assert.strictEqual(rows.length, messages.length)
            rows.forEach((row: StoredRow, i: number) => {
              const m = messages[i]!
              const key = m.clientMsgId === undefined ? undefined : `${m.senderId}/${m.clientMsgId}`
              const before = key === undefined ? undefined : first.get(key)
              if (before !== undefined) {
                assert.deepStrictEqual(row, { ...before, duplicate: true })
                return
              }
              assert.isFalse(row.duplicate)
              // one writer, nothing failing: ids are contiguous (a resend uses up none)
              assert.strictEqual(row.id, lastId + 1)
              lastId = row.id
              fresh++
              assert.deepStrictEqual(row, {
                id: row.id,
                senderId: m.senderId,
                receiverId: m.receiverId,
                roomId: null,
                text: m.text,
                timestamp,
                duplicate: false
              })
              if (key !== undefined) first.set(key, row)
            })
          }
          const stored = yield* sql<{ id: number; sender_id: number; message: string; client_msg_id: string | null }>`
          SELECT id, sender_id, message, client_msg_id FROM messages ORDER BY id`
          assert.strictEqual(stored.length, fresh)
          for (const [key, row] of first) {
            const [sender, clientMsgId] = key.split("/")
            const found = stored.filter((r) => r.sender_id === Number(sender) && r.client_msg_id === clientMsgId)
            assert.deepStrictEqual(found.map((r) => [r.id, r.message]), [[row.id, row.text]])
          }
        }).pipe(Effect.provide(backend.storage)),
      { timeout: 120_000, fastCheck: { numRuns: backend.runs } }
    )

    it.scopedLive("a batch that fails is rolled back whole and thrown", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* addUsers(sql)
        const writer = yield* MessageStore
        // user 99 does not exist: the foreign key refuses the second row
        const batch = [
          pending({ sender: 1, receiver: null, key: "k" }, "ok"),
          pending({ sender: 99, receiver: null, key: undefined }, "no")
        ]
        const failed = yield* Effect.exit(writer.store(batch, "t"))
        assert.isTrue(Exit.isFailure(failed))
        const chain = (e: unknown): string => e instanceof Error ? `${e.message} / ${chain(e.cause)}` : String(e)
        assert.match(Exit.isFailure(failed) ? chain(Cause.squash(failed.cause)) : "", /foreign key/i)
        const [count] = yield* sql<{ n: number }>`SELECT count(*) AS n FROM messages`
        assert.strictEqual(count!.n, 0)
        // and the writer goes on: the same key is new
        const [row] = yield* writer.store([batch[0]!], "t2")
        assert.isFalse(row!.duplicate)
      }).pipe(Effect.provide(backend.storage)))
  })
}

/** Two writers on one fresh database, each with a pool of its own (as two servers would be), its users added. */
const twoWriters = Effect.gen(function*() {
  const db = yield* freshPgDatabase
  const stack = PgMessageStore.pipe(Layer.provideMerge(PgDatabase), Layer.provide(onDb(db)))
  const [one, two] = [yield* Layer.build(stack), yield* Layer.build(stack)]
  const sql = Context.get(one, SqlClient.SqlClient)
  yield* addUsers(sql)
  return { one, two, sql } as const
})

describe.skipIf(!postgresAvailable)("message ids on PostgreSQL", () => {
  it.scopedLive(
    "two writers (two pools, as two servers) committing at once: a reader never sees an id appear below one it has already seen",
    () =>
      Effect.gen(function*() {
        const { one, sql, two } = yield* twoWriters
        const batches = fc.sample(fc.array(send, { minLength: 1, maxLength: 40 }), 120)
        const writer = (context: Context.Context<MessageStore>, label: string) =>
          Effect.forEach(batches, (batch, b) =>
            Context.get(context, MessageStore).store(
              batch.map((m, i) => pending({ ...m, key: undefined }, `${label}${b}.${i}`)),
              "t"
            ), { discard: true })
        const writers = yield* Effect.fork(Effect.all([writer(one, "a"), writer(two, "b")], { concurrency: 2 }))
        let seen = new Set<number>()
        let highest = 0
        let reads = 0
        const violations: Array<string> = []
        const read = Effect.gen(function*() {
          const ids = (yield* sql<{ id: number }>`SELECT id FROM messages ORDER BY id`).map((r) => r.id)
          reads++
          for (const id of ids) {
            if (id < highest && !seen.has(id)) {
              violations.push(`id ${id} appeared after ${highest} was seen`)
            }
          }
          seen = new Set(ids)
          highest = ids.length === 0 ? 0 : ids[ids.length - 1]!
        })
        while ((yield* Fiber.poll(writers))._tag === "None") yield* read
        yield* Fiber.join(writers)
        yield* read
        assert.deepStrictEqual(violations.slice(0, 5), [], `after ${reads} reads`)
        assert.isAbove(reads, 10, "the reader ran alongside the writers")
        const total = batches.reduce((n, b) => n + b.length, 0) * 2
        assert.strictEqual(seen.size, total)
      }),
    { timeout: 120_000 }
  )

  it.scopedLive(
    "two writers sending the same client_msg_ids at once: no batch fails, each key is stored once and both get its row",
    () =>
      Effect.gen(function*() {
        const { one, sql, two } = yield* twoWriters
        // 60 batches each: batch b carries keys b/0..b/4 of sender 1, the same on both writers
        const batchOf = (b: number, label: string) =>
          Array.from({ length: 5 }, (_, i) =>
            pending({ sender: 1, receiver: null, key: `${b}/${i}` }, `${label}${b}.${i}`))
        const writer = (context: Context.Context<MessageStore>, label: string) =>
          Effect.forEach(
            Array.from({ length: 60 }, (_, b) =>
              b),
            (b) => Context.get(context, MessageStore).store(batchOf(b, label), "t")
          )
        const [rowsOne, rowsTwo] = yield* Effect.all([writer(one, "a"), writer(two, "b")], { concurrency: 2 })
        for (let b = 0; b < 60; b++) {
          for (let i = 0; i < 5; i++) {
            const x = rowsOne[b]![i]!
            const y = rowsTwo[b]![i]!
            assert.strictEqual(x.id, y.id, `key ${b}/${i}`)
            assert.strictEqual(x.text, y.text)
            assert.isTrue(x.duplicate !== y.duplicate, "exactly one of the two stored it")
          }
        }
        const [count] = yield* sql<{ n: number }>`SELECT count(*) AS n FROM messages`
        assert.strictEqual(count!.n, 300)
      }),
    { timeout: 120_000 }
  )
})
