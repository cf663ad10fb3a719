/**
 * The hot write: a group commit's messages, stored by plain synchronous
 * calls on a better-sqlite3 connection of their own, with a few prepared
 * statements and one transaction per batch.
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
import { Effect, type Exit } from "effect"
import { BACKSTOP_PAGES } from "./Checkpointer.ts"
import { ServerConfig } from "./ServerConfig.ts"

/** A message to store, and whom to tell when it is stored. */
export interface PendingMessage {
  readonly senderId: number
  readonly receiverId: number | null
  readonly text: string
  readonly clientMsgId: string | undefined
  /** Called after commit (or on failure), in message_id order. */
  readonly done: (result: Exit.Exit<StoredRow>) => void
}

/** A row of `messages` as committed. `duplicate` when the client_msg_id was seen before. */
export interface StoredRow {
  readonly id: number
  readonly senderId: number
  readonly receiverId: number | null
  readonly text: string
  readonly timestamp: string
  readonly duplicate: boolean
}

/** Rows per INSERT: a handful of statement shapes serve every batch (5 bound parameters a row, SQLite allows 32,766). */
const INSERT_SIZES = [256, 64, 16, 4, 1] as const

const insertSql = (rows: number) =>
  "INSERT INTO messages (sender_id, receiver_id, message, timestamp, is_read, client_msg_id) VALUES " +
  Array.from({ length: rows }, () => "(?, ?, ?, ?, 0, ?)").join(", ") +
  " RETURNING id"

interface ExistingRow {
  readonly id: number
  readonly sender_id: number
  readonly receiver_id: number | null
  readonly message: string
  readonly timestamp: string
  readonly client_msg_id: string
}

const keyOf = (senderId: number, clientMsgId: string) => `${senderId}\u0000${clientMsgId}`

export class MessageWriter extends Effect.Service<MessageWriter>()("@parley/server/MessageWriter", {
  scoped: Effect.gen(function*() {
    // the schema is migrated by the SqlClient layer: open this connection after it
    yield* SqlClient.SqlClient
    const config = yield* ServerConfig
    const db = yield* Effect.acquireRelease(
      Effect.try({
        try: () => {
          const db = new Database(config.db)
          // per-connection settings, the same as the SqlClient connection's (Database.ts)
          db.pragma("journal_mode = WAL")
          db.pragma(`synchronous = ${config.synchronous === "full" ? "FULL" : "NORMAL"}`)
          db.pragma("foreign_keys = ON")
          db.pragma("busy_timeout = 5000")
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
    const existing = db.prepare<[string], ExistingRow>(
      `SELECT id, sender_id, receiver_id, message, timestamp, client_msg_id FROM messages
       WHERE client_msg_id IS NOT NULL AND (sender_id, client_msg_id) IN (
         SELECT value ->> 0, value ->> 1 FROM json_each(?))`
    )

    const storeInTransaction = db.transaction(
      (batch: ReadonlyArray<PendingMessage>, timestamp: string): Array<StoredRow> => {
        const results: Array<StoredRow | undefined> = new Array(batch.length)
        // idempotency: an earlier send with the same (sender, client_msg_id), in the db or in this batch
        const firstOfKey = new Map<string, number>()
        let keys: Array<[number, string]> | undefined
        for (const m of batch) if (m.clientMsgId !== undefined) (keys ??= []).push([m.senderId, m.clientMsgId])
        if (keys !== undefined) {
          const stored = new Map<string, StoredRow>()
          for (const row of existing.all(JSON.stringify(keys))) {
            stored.set(keyOf(row.sender_id, row.client_msg_id), {
              id: row.id,
              senderId: row.sender_id,
              receiverId: row.receiver_id,
              text: row.message,
              timestamp: row.timestamp,
              duplicate: true
            })
          }
          for (let i = 0; i < batch.length; i++) {
            const m = batch[i]!
            if (m.clientMsgId === undefined) continue
            const key = keyOf(m.senderId, m.clientMsgId)
            const before = stored.get(key)
            if (before !== undefined) results[i] = before
            else if (!firstOfKey.has(key)) firstOfKey.set(key, i)
          }
        }
        const fresh: Array<number> = []
        for (let i = 0; i < batch.length; i++) {
          if (results[i] !== undefined) continue
          const m = batch[i]!
          // a later twin inside this batch repeats its first's row (below)
          if (m.clientMsgId !== undefined && firstOfKey.get(keyOf(m.senderId, m.clientMsgId)) !== i) continue
          fresh.push(i)
        }
        for (let start = 0; start < fresh.length;) {
          const rows = INSERT_SIZES.find((n) => n <= fresh.length - start)!
          const params: Array<unknown> = []
          for (let k = start; k < start + rows; k++) {
            const m = batch[fresh[k]!]!
            params.push(m.senderId, m.receiverId, m.text, timestamp, m.clientMsgId ?? null)
          }
          // one writer: ids are given in insertion order, whatever order RETURNING lists them in
          const ids = insert(rows).all(params).map((r) => r.id).sort((a, b) => a - b)
          for (let k = 0; k < rows; k++) {
            const i = fresh[start + k]!
            const m = batch[i]!
            results[i] = {
              id: ids[k]!,
              senderId: m.senderId,
              receiverId: m.receiverId,
              text: m.text,
              timestamp,
              duplicate: false
            }
          }
          start += rows
        }
        for (let i = 0; i < batch.length; i++) {
          const m = batch[i]!
          if (results[i] !== undefined || m.clientMsgId === undefined) continue
          results[i] = { ...results[firstOfKey.get(keyOf(m.senderId, m.clientMsgId))!]!, duplicate: true }
        }
        return results as Array<StoredRow>
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
}) {}
