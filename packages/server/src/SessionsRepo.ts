/**
 * Sessions: one row per authenticated connection, closed on every kind of
 * close, and closed at start for rows a crash left open (in a cluster, only
 * the starting node's own: the others' are theirs, or counted out by the
 * cluster's reaper, see Cluster.ts).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

/** An open session another node holds. */
export interface OpenSession {
  readonly id: number
  readonly ip_address: string | null
  readonly connect_time: string
  readonly token_hash: string | null
}

export class SessionsRepo extends Effect.Service<SessionsRepo>()("@parley/server/SessionsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    /** `tokenHash`: of the token the session logged in with or was given (REVOKE revokes it). */
    const open = (userId: number, ip: string, now: string, tokenHash: string, nodeId: string) =>
      sql<{ id: number }>`
        INSERT INTO sessions (user_id, ip_address, connect_time, token_hash, node_id)
        VALUES (${userId}, ${ip}, ${now}, ${tokenHash}, ${nodeId}) RETURNING id`.pipe(
        Effect.map((rows) => rows[0]!.id),
        Effect.orDie
      )

    const close = (sessionId: number, now: string) =>
      sql`UPDATE sessions SET disconnect_time = ${now} WHERE id = ${sessionId} AND disconnect_time IS NULL`.pipe(
        Effect.asVoid,
        Effect.orDie
      )

    /** Records the end of open sessions (REVOKE of sessions another node holds, which closes them after). */
    const closeMany = (sessionIds: ReadonlyArray<number>, now: string) =>
      sessionIds.length === 0
        ? Effect.void
        : sql`UPDATE sessions SET disconnect_time = ${now}
              WHERE id IN ${sql.in(sessionIds)} AND disconnect_time IS NULL`.pipe(Effect.asVoid, Effect.orDie)

    /** Closes every session still open (or only those of node `nodeId`); returns how many. */
    const closeAllOpen = (now: string, nodeId?: string) =>
      sql<{ id: number }>`
        UPDATE sessions SET disconnect_time = ${now}
        WHERE disconnect_time IS NULL ${nodeId === undefined ? sql`` : sql`AND node_id = ${nodeId}`}
        RETURNING id`.pipe(
        Effect.map((rows) => rows.length),
        Effect.orDie
      )

    /** A user's open sessions that live nodes of the cluster other than `nodeId` hold (PostgreSQL only). */
    const openElsewhere = (userId: number, nodeId: string) =>
      sql<OpenSession>`
        SELECT s.id, s.ip_address, s.connect_time, s.token_hash FROM sessions s
        JOIN cluster_nodes n ON n.node_id = s.node_id
        WHERE s.user_id = ${userId} AND s.disconnect_time IS NULL AND s.node_id <> ${nodeId}
          -- one whose token a REVOKE deleted is ending there: as on one server, it is no longer listed
          AND EXISTS (SELECT 1 FROM tokens t WHERE t.token_hash = s.token_hash)
        ORDER BY s.id`.pipe(Effect.orDie)

    return { open, close, closeMany, closeAllOpen, openElsewhere } as const
  })
}) {}
