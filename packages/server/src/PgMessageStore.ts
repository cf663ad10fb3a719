/**
 * The hot write on PostgreSQL (the `MessageStore` of the PostgreSQL
 * backend): a group commit's messages in ONE statement whatever the batch
 * size, run on its own as an implicit transaction, on a connection of its
 * own through node-postgres directly: arrays bound as parameters and
 * `unnest`ed into a multi-row `INSERT`, prepared once by name. A batch costs
 * one round trip and one commit (one WAL flush with `synchronous_commit=on`).
 *
 * Why not `SqlClient` here, as everywhere else on PostgreSQL: `BEGIN`, the
 * lock, the `INSERT` and `COMMIT` as four statements through it gave 8,600
 * to 9,200 ACKs/s in `bench durable` (S=50, window 1); the same single
 * statement through `SqlClient` 11,900 to 12,900; on this connection, with
 * the statement parsed once, 14,500 to 18,300 (alternating runs on this
 * 2-core machine; docs/benchmarks.md). The difference is per batch: a span,
 * a pool checkout and a parse on the server for every statement. This module
 * is the only place that bypasses `SqlClient` on PostgreSQL; reads, other
 * writes and migrations all go through it.
 *
 * A connection that fails (PostgreSQL restarted, the network cut) is dropped,
 * and the next batch opens a new one, within 1.5 s or UNAVAILABLE.
 *
 * Ids in commit order: the statement first takes a transaction-scoped
 * advisory lock shared by every writer (every server process on the
 * database) and holds it until its commit, so a batch's ids are drawn only
 * after every batch with smaller ids has committed and become visible. A
 * reader that has seen id N can never later see a smaller one appear.
 *
 * Idempotency: a resent key already stored when the statement starts is
 * left out by `NOT EXISTS` before it draws an id; one stored by another
 * server while this statement waited for the lock (after its snapshot) is
 * skipped by `ON CONFLICT DO NOTHING` on the `(sender_id, client_msg_id)`
 * index, which sees the latest commits, so two senders of the same key never
 * fail a batch. The skipped keys' first rows are then read in a second
 * statement. Only that race uses up an id for nothing and leaves a gap.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import { Effect, Layer } from "effect"
import Pg from "pg"
import { type KeyedRow, MessageStore, type PendingMessage, planBatch } from "./MessageStore.ts"
import { pgTypes } from "./PgTypes.ts"
import { ServerConfig } from "./ServerConfig.ts"
import { isFaultError } from "./StorageHealth.ts"

/** `pg_advisory_xact_lock` key of the message writers ("PARLEY M" in ASCII, as an int8). */
export const MESSAGE_LOCK = 0x5041524c45592d4dn.toString()

// the lock's CTE is materialised and joined before any row reaches the INSERT, so it is held
// before the first id is drawn (nextval runs per row, in the SELECT's order)
const INSERT = `
  WITH writer AS MATERIALIZED (SELECT pg_advisory_xact_lock($1::int8))
  INSERT INTO messages (sender_id, receiver_id, room_id, message, timestamp, is_read, client_msg_id)
  SELECT s, r, g, t, $6, 0, c FROM writer, unnest($2::int8[], $3::int8[], $4::text[], $5::text[], $7::int8[])
    WITH ORDINALITY AS b(s, r, t, c, g, n)
  WHERE c IS NULL OR NOT EXISTS (SELECT 1 FROM messages m WHERE m.sender_id = b.s AND m.client_msg_id = b.c)
  ORDER BY n
  ON CONFLICT (sender_id, client_msg_id) WHERE client_msg_id IS NOT NULL DO NOTHING
  RETURNING id, sender_id, client_msg_id`

const LOOKUP = `
  SELECT m.id, m.sender_id AS "senderId", m.receiver_id AS "receiverId", m.room_id AS "roomId", m.message AS text,
         m.timestamp, m.client_msg_id AS "clientMsgId"
  FROM messages m JOIN unnest($1::int8[], $2::text[]) AS k(sender_id, client_msg_id)
    ON m.sender_id = k.sender_id AND m.client_msg_id = k.client_msg_id`

const keyOf = (senderId: number, clientMsgId: string) => `${senderId}\u0000${clientMsgId}`

export const PgMessageStore = Layer.scoped(
  MessageStore,
  Effect.gen(function*() {
    // the schema is migrated by the SqlClient layer: connect after it
    yield* SqlClient.SqlClient
    const config = yield* ServerConfig
    let client: Pg.Client | undefined
    const connection = Effect.tryPromise({
      try: async () => {
        if (client !== undefined) return client
        const c = new Pg.Client({
          connectionString: config.db,
          types: pgTypes,
          application_name: "parley-writer",
          connectionTimeoutMillis: 1500
        })
        c.on("error", () => {
          if (client === c) client = undefined
        })
        await c.connect()
        client = c
        return c
      },
      catch: (cause) => new SqlError({ cause, message: "cannot connect to PostgreSQL to store messages" })
    })
    yield* Effect.addFinalizer(() => Effect.promise(() => client?.end().catch(() => {}) ?? Promise.resolve()))
    const run = <A>(name: string, text: string, values: ReadonlyArray<unknown>) =>
      Effect.flatMap(connection, (c) =>
        Effect.tryPromise({
          try: () =>
            c.query<A & Pg.QueryResultRow>({ name, text, values: values as Array<unknown> }).then((r) => r.rows),
          catch: (cause) => {
            // a connection that failed is dropped: the next batch opens a new one
            if (isFaultError(cause) && client === c) {
              client = undefined
              c.end().catch(() => {})
            }
            return new SqlError({ cause, message: "storing a group commit's messages failed" })
          }
        }))
    return {
      store: (batch, timestamp) =>
        Effect.gen(function*() {
          // repeats within the batch are folded here; repeats of stored keys, by the index
          const plan = planBatch(batch, [])
          if (plan.fresh.length === 0) return plan.finish([], timestamp)
          const rows = yield* run<{ id: number; sender_id: number; client_msg_id: string | null }>(
            "parley-insert",
            INSERT,
            [
              MESSAGE_LOCK,
              plan.fresh.map((m) => m.senderId),
              plan.fresh.map((m) => m.receiverId),
              plan.fresh.map((m) => m.text),
              plan.fresh.map((m) => m.clientMsgId ?? null),
              timestamp,
              plan.fresh.map((m) => m.roomId)
            ]
          )
          // ascending ids are the inserted messages in batch order
          const ids = rows.map((r) => r.id).sort((a, b) => a - b)
          if (rows.length === plan.fresh.length) return plan.finish(ids, timestamp)
          const inserted = new Set<string>()
          for (const r of rows) if (r.client_msg_id !== null) inserted.add(keyOf(r.sender_id, r.client_msg_id))
          const skipped: Array<PendingMessage> = plan.fresh.filter((m) =>
            m.clientMsgId !== undefined && !inserted.has(keyOf(m.senderId, m.clientMsgId))
          )
          const existing = yield* run<KeyedRow>("parley-lookup", LOOKUP, [
            skipped.map((m) => m.senderId),
            skipped.map((m) => m.clientMsgId!)
          ])
          if (existing.length !== skipped.length) {
            return yield* Effect.dieMessage(`${skipped.length} resent client_msg_ids skipped, ${existing.length} found`)
          }
          // planned again with the stored rows known: its fresh messages are exactly the inserted ones
          return planBatch(batch, existing).finish(ids, timestamp)
        })
    }
  })
)
