/**
 * The hot write on SQLite (the `MessageStore` of the SQLite backend): a
 * group commit's messages, stored by plain synchronous calls on a
 * better-sqlite3 connection of their own, with a few prepared statements and
 * one transaction per batch.
 *
 * Through `SqlClient` the same batch cost about 400 µs of server CPU, most of
 * it Effect machinery around ~50 µs of SQLite (a span, a scope and a
 * semaphore per transaction; a compile, a cache lookup and a span per
 * statement). It also kept every message it touched alive long enough to
 * reach V8's old generation (~3 MB/s at 5,000 msg/s), so under load a major
 * GC came every few seconds and each one put 5–15 ms into every latency.
 * Measured in docs/benchmarks.md.
 *
 * Only this connection writes `messages`, and only from the group commit's
 * fiber, which runs the other writes (through `SqlClient`, in a transaction
 * of their own) before it, never at the same time: the two connections never
 * wait for each other's lock. Reads through `SqlClient` see each batch once
 * it is committed, as they would any other connection's.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import Database from "better-sqlite3"
import { Effect, Layer } from "effect"
import { BACKSTOP_PAGES } from "./Checkpointer.ts"
import { type KeyedRow, keysOf, MessageStore, type PendingMessage, planBatch, type StoredRow } from "./MessageStore.ts"
import { ServerConfig } from "./ServerConfig.ts"

/** Rows per INSERT: a handful of statement shapes serve every batch (6 bound parameters a row, SQLite allows 32,766). */
const INSERT_SIZES = [256, 64, 16, 4, 1] as const

const insertSql = (rows: number) =>
  "INSERT INTO messages (sender_id, receiver_id, room_id, message, timestamp, is_read, client_msg_id) VALUES " +
  Array.from({ length: rows }, () => "(?, ?, ?, ?, ?, 0, ?)").join(", ") +
  " RETURNING id"

/** The synchronous writer; `store` throws if the transaction fails (rolled back). */
export const makeMessageWriter = Effect.gen(function*() {
  // the schema is migrated by the SqlClient layer: open this connection after it
  yield* SqlClient.SqlClient
  const config = yield* ServerConfig
  const db = yield* Effect.acquireRelease(
    Effect.try({
      try: () => {
        const db = new Database(config.db)
        // per-connection settings, the same as the SqlClient connection's (SqliteDatabase.ts)
        db.pragma("journal_mode = WAL")
        db.pragma(`synchronous = ${config.synchronous === "full" ? "FULL" : "NORMAL"}`)
        db.pragma("foreign_keys = ON")
        db.pragma("busy_timeout = 0")
        db.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`)
        return db
      },
      catch: (cause) => new SqlError({ cause, message: `cannot open ${config.db} for writing messages` })
    }).pipe(Effect.orDie),
    (db) => Effect.sync(() => db.close())
  )

  const inserts = new Map<number, Database.Statement<Array<unknown>, { id: number }>>()
  const insert = (rows: number) => {
    let statement = inserts.get(rows)
    if (statement === undefined) inserts.set(rows, statement = db.prepare(insertSql(rows)))
    return statement
  }
  // one JSON parameter keeps the statement the same for any number of keys
  const existing = db.prepare<[string], KeyedRow>(
    `SELECT id, sender_id AS senderId, receiver_id AS receiverId, room_id AS roomId, message AS text, timestamp,
            client_msg_id AS clientMsgId
     FROM messages WHERE client_msg_id IS NOT NULL AND (sender_id, client_msg_id) IN (
       SELECT value ->> 0, value ->> 1 FROM json_each(?))`
  )

  const storeInTransaction = db.transaction(
    (batch: ReadonlyArray<PendingMessage>, timestamp: string): Array<StoredRow> => {
      const keys = keysOf(batch)
      const plan = planBatch(batch, keys === undefined ? [] : existing.all(JSON.stringify(keys)))
      const ids: Array<number> = []
      for (let start = 0; start < plan.fresh.length;) {
        const rows = INSERT_SIZES.find((n) => n <= plan.fresh.length - start)!
        const params: Array<unknown> = []
        for (let k = start; k < start + rows; k++) {
          const m = plan.fresh[k]!
          params.push(m.senderId, m.receiverId, m.roomId, m.text, timestamp, m.clientMsgId ?? null)
        }
        // one writer: ids are given in insertion order, whatever order RETURNING lists them in
        for (const id of insert(rows).all(params).map((r) => r.id).sort((a, b) => a - b)) ids.push(id)
        start += rows
      }
      return plan.finish(ids, timestamp)
    }
  )

  /**
   * Stores a batch in one transaction (committed, or rolled back and
   * thrown): one row per message, in the batch's order, with a resent
   * `client_msg_id` answered by its first row.
   */
  const store = (batch: ReadonlyArray<PendingMessage>, timestamp: string): Array<StoredRow> =>
    storeInTransaction.immediate(batch, timestamp)

  return { store } as const
})

/** The SQLite backend's `MessageStore`. */
export const SqliteMessageStore = Layer.scoped(
  MessageStore,
  Effect.map(makeMessageWriter, (writer) => ({
    store: (batch, timestamp) =>
      Effect.try({
        try: () => writer.store(batch, timestamp),
        catch: (cause) => new SqlError({ cause, message: "storing a group commit's messages failed" })
      })
  }))
)
