/**
 * The hot write on PostgreSQL (the `MessageStore` of the PostgreSQL
 * backend): a group commit's messages in ONE statement whatever the batch
 * size, run on its own as an implicit transaction: arrays bound as
 * parameters and `unnest`ed into a multi-row `INSERT`. A batch costs one
 * round trip and one commit (one WAL flush with `synchronous_commit=on`),
 * where `BEGIN`, the lock, the `INSERT` and `COMMIT` as separate statements
 * cost four round trips: 12,900 against 8,600-9,200 ACKs/s in `bench durable`
 * (S=50, window 1), alternating runs on this 2-core machine (docs/benchmarks.md).
 *
 * Ids in commit order: the statement first takes a transaction-scoped
 * advisory lock shared by every writer (every server process on the
 * database) and holds it until its commit, so a batch's ids are drawn only
 * after every batch with smaller ids has committed and become visible. A
 * reader that has seen id N can never later see a smaller one appear.
 *
 * Idempotency: `ON CONFLICT DO NOTHING` on the `(sender_id, client_msg_id)`
 * index skips a resent key (stored earlier, or by another server a moment
 * ago: the index sees the latest commits, whatever the statement's snapshot),
 * so two senders of the same key never fail a batch. The skipped keys'
 * first rows are then read in a second statement. A skipped row has used up
 * its id, so resends leave gaps in the ids: the contract promises only that
 * ids increase in commit order.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Layer } from "effect"
import { type KeyedRow, MessageStore, type PendingMessage, planBatch } from "./MessageStore.ts"

/** `pg_advisory_xact_lock` key of the message writers ("PARLEY M" in ASCII, as an int8). */
export const MESSAGE_LOCK = 0x5041524c45592d4dn.toString()

// the lock's CTE is materialised and joined before any row reaches the INSERT, so it is held
// before the first id is drawn (nextval runs per row, in the SELECT's order)
const INSERT = `
  WITH writer AS MATERIALIZED (SELECT pg_advisory_xact_lock($1::int8))
  INSERT INTO messages (sender_id, receiver_id, message, timestamp, is_read, client_msg_id)
  SELECT s, r, t, $6, 0, c FROM writer, unnest($2::int8[], $3::int8[], $4::text[], $5::text[])
    WITH ORDINALITY AS b(s, r, t, c, n) ORDER BY n
  ON CONFLICT (sender_id, client_msg_id) WHERE client_msg_id IS NOT NULL DO NOTHING
  RETURNING id, sender_id, client_msg_id`

const LOOKUP = `
  SELECT m.id, m.sender_id AS "senderId", m.receiver_id AS "receiverId", m.message AS text,
         m.timestamp, m.client_msg_id AS "clientMsgId"
  FROM messages m JOIN unnest($1::int8[], $2::text[]) AS k(sender_id, client_msg_id)
    ON m.sender_id = k.sender_id AND m.client_msg_id = k.client_msg_id`

const keyOf = (senderId: number, clientMsgId: string) => `${senderId}\u0000${clientMsgId}`

export const PgMessageStore = Layer.effect(
  MessageStore,
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    return {
      store: (batch, timestamp) =>
        Effect.gen(function*() {
          // repeats within the batch are folded here; repeats of stored keys, by the index
          const plan = planBatch(batch, [])
          if (plan.fresh.length === 0) return plan.finish([], timestamp)
          const rows = yield* sql.unsafe<{ id: number; sender_id: number; client_msg_id: string | null }>(INSERT, [
            MESSAGE_LOCK,
            plan.fresh.map((m) => m.senderId),
            plan.fresh.map((m) => m.receiverId),
            plan.fresh.map((m) => m.text),
            plan.fresh.map((m) => m.clientMsgId ?? null),
            timestamp
          ])
          // ascending ids are the inserted messages in batch order
          const ids = rows.map((r) => r.id).sort((a, b) => a - b)
          if (rows.length === plan.fresh.length) return plan.finish(ids, timestamp)
          const inserted = new Set<string>()
          for (const r of rows) if (r.client_msg_id !== null) inserted.add(keyOf(r.sender_id, r.client_msg_id))
          const skipped: Array<PendingMessage> = plan.fresh.filter((m) =>
            m.clientMsgId !== undefined && !inserted.has(keyOf(m.senderId, m.clientMsgId))
          )
          const existing = yield* sql.unsafe<KeyedRow>(LOOKUP, [
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
