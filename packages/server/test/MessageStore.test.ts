/**
 * The message writer stores a batch in one transaction on its own
 * connection. Whatever the batches, every message gets a row in batch order,
 * a resent client_msg_id (in the database, or earlier in the same batch) is
 * answered by its first row and stores nothing, and the rows are there for
 * the SqlClient connection to read.
 */
import { assert, describe, it } from "@effect/vitest"
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, FastCheck as fc, Layer } from "effect"
import { DatabaseLive } from "../src/Database.ts"
import { MessageWriter, type PendingMessage, type StoredRow } from "../src/MessageWriter.ts"
import { ServerConfig } from "../src/ServerConfig.ts"
import { tempDb } from "./support/ServerProcess.ts"

const USERS = 3

const Storage = Layer.unwrapScoped(
  Effect.map(tempDb, (db) =>
    MessageWriter.Default.pipe(
      Layer.provideMerge(DatabaseLive),
      Layer.provide(ServerConfig.layer({ db }))
    )
  )
)

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
  text,
  clientMsgId: s.key,
  done: () => {}
})

describe("MessageWriter", () => {
  it.scopedLive.prop(
    "one row per message in batch order; a resent client_msg_id gets its first row and stores nothing [100 runs]",
    [fc.array(fc.array(send, { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 8 })],
    ([batches]) =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        for (let i = 1; i <= USERS; i++) {
          yield* sql`INSERT INTO users (id, username, password_hash, created_at) VALUES (${i}, ${`u${i}`}, 'x', 'now')`
        }
        const writer = yield* MessageWriter
        const first = new Map<string, StoredRow>()
        let lastId = 0
        let fresh = 0
        for (const [b, batch] of batches.entries()) {
          const timestamp = `2026-01-01T00:00:0${b}.000Z`
          const messages = batch.map((s, i) => pending(s, `b${b}m${i}`))
          const rows = writer.store(messages, timestamp)
          assert.strictEqual(rows.length, messages.length)
          rows.forEach((row, i) => {
            const m = messages[i]!
            const key = m.clientMsgId === undefined ? undefined : `${m.senderId}/${m.clientMsgId}`
            const before = key === undefined ? undefined : first.get(key)
            if (before !== undefined) {
              assert.deepStrictEqual(row, { ...before, duplicate: true })
              return
            }
            assert.isFalse(row.duplicate)
            assert.isAbove(row.id, lastId)
            lastId = row.id
            fresh++
            assert.deepStrictEqual(row, {
              id: row.id,
              senderId: m.senderId,
              receiverId: m.receiverId,
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
      }).pipe(Effect.provide(Storage)),
    { timeout: 120_000, fastCheck: { numRuns: 100 } }
  )

  it.scopedLive("a batch that fails is rolled back whole and thrown", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`INSERT INTO users (id, username, password_hash, created_at) VALUES (1, 'u1', 'x', 'now')`
      const writer = yield* MessageWriter
      // user 99 does not exist: the foreign key refuses the second row
      const batch = [pending({ sender: 1, receiver: null, key: "k" }, "ok"), pending({ sender: 99, receiver: null, key: undefined }, "no")]
      assert.throws(() => writer.store(batch, "t"), /FOREIGN KEY/)
      const [count] = yield* sql<{ n: number }>`SELECT count(*) AS n FROM messages`
      assert.strictEqual(count!.n, 0)
      // and the writer goes on: the same key is new
      const [row] = writer.store([batch[0]!], "t2")
      assert.isFalse(row!.duplicate)
    }).pipe(Effect.provide(Storage)))
})
