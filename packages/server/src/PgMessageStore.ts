/**
 * The hot write on PostgreSQL (the `MessageStore` of the PostgreSQL
 * backend): a group commit's messages in one transaction of two or three
 * statements whatever the batch size (arrays bound as parameters and
 * `unnest`ed), so a batch costs one round trip per statement and one
 * commit (one WAL flush with `synchronous_commit=on`).
 *
 * Ids in commit order: every writer (every server process on the database)
 * takes the same transaction-scoped advisory lock before it allocates ids and
 * holds it until its commit, so a batch's ids are allocated only after every
 * batch with smaller ids has committed and become visible. A reader that has
 * seen id N can never later see a smaller one appear. The lock also makes the
 * idempotency lookup exact: no other writer can insert the same
 * (sender, client_msg_id) between the lookup and the insert, so the unique
 * index never fails a batch.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Layer } from "effect"
import { type KeyedRow, keysOf, MessageStore, planBatch } from "./MessageStore.ts"

/** `pg_advisory_xact_lock` key of the message writers ("PARLEY M" in ASCII, as an int8). */
export const MESSAGE_LOCK = 0x5041524c45592d4dn.toString()

export const PgMessageStore = Layer.effect(
  MessageStore,
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    return {
      store: (batch, timestamp) =>
        sql.withTransaction(Effect.gen(function*() {
          yield* sql.unsafe("SELECT pg_advisory_xact_lock($1::int8)", [MESSAGE_LOCK])
          const keys = keysOf(batch)
          const existing = keys === undefined ? [] : yield* sql.unsafe<KeyedRow>(
            `SELECT m.id, m.sender_id AS "senderId", m.receiver_id AS "receiverId", m.message AS text,
                    m.timestamp, m.client_msg_id AS "clientMsgId"
             FROM messages m JOIN unnest($1::int8[], $2::text[]) AS k(sender_id, client_msg_id)
               ON m.sender_id = k.sender_id AND m.client_msg_id = k.client_msg_id`,
            [keys.map((k) => k[0]), keys.map((k) => k[1])]
          )
          const plan = planBatch(batch, existing)
          if (plan.fresh.length === 0) return plan.finish([], timestamp)
          const rows = yield* sql.unsafe<{ id: number }>(
            `INSERT INTO messages (sender_id, receiver_id, message, timestamp, is_read, client_msg_id)
             SELECT s, r, t, $5, 0, c FROM unnest($1::int8[], $2::int8[], $3::text[], $4::text[])
               WITH ORDINALITY AS b(s, r, t, c, n) ORDER BY n
             RETURNING id`,
            [
              plan.fresh.map((m) => m.senderId),
              plan.fresh.map((m) => m.receiverId),
              plan.fresh.map((m) => m.text),
              plan.fresh.map((m) => m.clientMsgId ?? null),
              timestamp
            ]
          )
          // nextval runs in the SELECT's order, so ascending ids are the batch's order
          return plan.finish(rows.map((r) => r.id).sort((a, b) => a - b), timestamp)
        }))
    }
  })
)
