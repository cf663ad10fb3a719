/**
 * Sessions: one row per authenticated connection, closed on every kind of
 * close, and closed at start for rows a crash left open.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

export class SessionsRepo extends Effect.Service<SessionsRepo>()("@parley/server/SessionsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    /** `tokenHash`: of the token the session logged in with or was given (REVOKE revokes it). */
    const open = (userId: number, ip: string, now: string, tokenHash: string) =>
      sql<{ id: number }>`
        INSERT INTO sessions (user_id, ip_address, connect_time, token_hash)
        VALUES (${userId}, ${ip}, ${now}, ${tokenHash}) RETURNING id`.pipe(
        Effect.map((rows) => rows[0]!.id),
        Effect.orDie
      )

    const close = (sessionId: number, now: string) =>
      sql`UPDATE sessions SET disconnect_time = ${now} WHERE id = ${sessionId} AND disconnect_time IS NULL`.pipe(
        Effect.asVoid,
        Effect.orDie
      )

    /** Closes every session still open; returns how many. */
    const closeAllOpen = (now: string) =>
      sql<{ id: number }>`UPDATE sessions SET disconnect_time = ${now} WHERE disconnect_time IS NULL RETURNING id`.pipe(
        Effect.map((rows) => rows.length),
        Effect.orDie
      )

    return { open, close, closeAllOpen } as const
  })
}) {}
