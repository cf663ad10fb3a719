/**
 * DM conversations are read from `direct_index` up to its mark and from the
 * messages table above it. Whatever the interleaving of stored messages and
 * catch-ups, a conversation's history pages must equal a plain filter of
 * everything stored.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, FastCheck as fc, Layer, Logger, LogLevel } from "effect"
import { DirectIndex } from "../src/DirectIndex.ts"
import { GroupCommit, type StoredRow } from "../src/GroupCommit.ts"
import { MessagesRepo } from "../src/MessagesRepo.ts"
import { Metrics } from "../src/Metrics.ts"
import { ServerConfig } from "../src/ServerConfig.ts"
import { SqliteStorage } from "../src/SqliteDatabase.ts"
import { tempDb } from "./support/ServerProcess.ts"

const USERS = 4

/** The storage services on a fresh database file, removed afterwards. */
const Storage = Layer.unwrapScoped(
  Effect.map(tempDb, (db) =>
    MessagesRepo.Default.pipe(
      Layer.provideMerge(SqliteStorage),
      Layer.provide(Layer.merge(ServerConfig.layer({ db }), Metrics.Default))
    ))
)

type Step =
  | { readonly _tag: "send"; readonly messages: ReadonlyArray<readonly [number, number | null]> }
  | { readonly _tag: "catchUp" }

const user = fc.integer({ min: 1, max: USERS })
const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.array(fc.tuple(user, fc.option(user, { nil: null, freq: 4 })), { minLength: 1, maxLength: 6 })
      .map((messages) => ({ _tag: "send" as const, messages }))
  },
  { weight: 1, arbitrary: fc.constant({ _tag: "catchUp" as const }) }
)

const cursor = fc.option(fc.integer({ min: 0, max: 130 }), { nil: undefined })
const query = fc.record({ a: user, b: user, before: cursor, after: cursor, limit: fc.integer({ min: 1, max: 8 }) })

interface Row {
  readonly id: number
  readonly sender: number
  readonly receiver: number | null
}

/** What a page must hold: the conversation filtered by the cursors, oldest first. */
const expected = (
  rows: ReadonlyArray<Row>,
  q: fc.RecordValue<typeof query extends fc.Arbitrary<infer T> ? T : never>
) => {
  const between = rows.filter((r) =>
    r.receiver !== null &&
    ((r.sender === q.a && r.receiver === q.b) || (r.sender === q.b && r.receiver === q.a)) &&
    (q.after === undefined || r.id > q.after) &&
    (q.before === undefined || r.id < q.before)
  ).map((r) => r.id)
  const forward = q.after !== undefined
  const page = forward ? between.slice(0, q.limit) : between.slice(-q.limit)
  return { ids: page, hasMore: between.length > q.limit }
}

const store = (commit: GroupCommit, messages: ReadonlyArray<readonly [number, number | null]>) =>
  Effect.forEach(
    messages.map(([sender, receiver], i) =>
      Effect.async<StoredRow>((resume) =>
        commit.submit({
          senderId: sender,
          receiverId: receiver,
          roomId: null,
          text: `m${i}`,
          clientMsgId: undefined,
          done: (exit) => resume(Exit.isSuccess(exit) ? Effect.succeed(exit.value) : Effect.die(exit))
        })
      )
    ),
    (stored) => stored,
    { concurrency: "unbounded" }
  )

describe("direct index", () => {
  it.scopedLive.prop(
    "conversation pages equal a filter of every stored DM, across the index's mark [150 runs]",
    [fc.array(step, { maxLength: 25 }), fc.array(query, { minLength: 1, maxLength: 12 })],
    ([steps, queries]) =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        for (let i = 1; i <= USERS; i++) {
          yield* sql`INSERT INTO users (id, username, password_hash, created_at) VALUES (${i}, ${`u${i}`}, 'x', 'now')`
        }
        const commit = yield* GroupCommit
        const index = yield* DirectIndex
        const repo = yield* MessagesRepo
        const rows: Array<Row> = []
        for (const s of steps) {
          if (s._tag === "catchUp") {
            yield* index.catchUp
            continue
          }
          const stored = yield* store(commit, s.messages)
          for (const row of stored) rows.push({ id: row.id, sender: row.senderId, receiver: row.receiverId })
        }
        rows.sort((x, y) => x.id - y.id)
        for (const q of queries) {
          const page = yield* repo.history({
            userId: q.a,
            withUserId: q.b,
            roomId: undefined,
            before: q.before,
            after: q.after,
            limit: q.limit
          })
          const want = expected(rows, q)
          assert.deepStrictEqual(page.messages.map((m) => m.message_id), want.ids, JSON.stringify(q))
          assert.strictEqual(page.hasMore, want.hasMore, `has_more for ${JSON.stringify(q)}`)
          for (const m of page.messages) {
            const row = rows.find((r) => r.id === m.message_id)!
            assert.deepStrictEqual([m.from, m.to], [`u${row.sender}`, `u${row.receiver}`])
          }
        }
        // after a catch-up every DM is in the index and the mark is the newest message
        yield* index.catchUp
        const indexed = yield* sql<{ id: number }>`SELECT id FROM direct_index ORDER BY id`
        assert.deepStrictEqual(indexed.map((r) => r.id), rows.filter((r) => r.receiver !== null).map((r) => r.id))
        const [mark] = yield* sql<{ upto: number }>`SELECT upto FROM direct_index_state`
        assert.strictEqual(mark!.upto, rows.length === 0 ? 0 : rows[rows.length - 1]!.id)
      }).pipe(Effect.provide(Storage), Logger.withMinimumLogLevel(LogLevel.Warning)),
    { timeout: 120_000, fastCheck: { numRuns: 150 } }
  )
})
