/**
 * Login tokens, stored only as SHA-256 hashes with an expiry.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Option } from "effect"

export class TokensRepo extends Effect.Service<TokensRepo>()("@parley/server/TokensRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const insert = (tokenHash: string, userId: number, now: string, expiresAt: string) =>
      sql`INSERT INTO tokens (token_hash, user_id, created_at, expires_at)
          VALUES (${tokenHash}, ${userId}, ${now}, ${expiresAt})`.pipe(Effect.asVoid, Effect.orDie)

    /** The account a live token belongs to. */
    const find = (tokenHash: string, now: string) =>
      sql<{ user_id: number }>`SELECT user_id FROM tokens WHERE token_hash = ${tokenHash} AND expires_at > ${now}`.pipe(
        Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), (r) => r.user_id)),
        Effect.orDie
      )

    const purgeExpired = (now: string) =>
      sql`DELETE FROM tokens WHERE expires_at <= ${now}`.pipe(Effect.asVoid, Effect.orDie)

    /** Revokes tokens: a later login with one of them fails. */
    const revoke = (tokenHashes: Iterable<string>) =>
      Effect.forEach(tokenHashes, (hash) => sql`DELETE FROM tokens WHERE token_hash = ${hash}`, { discard: true }).pipe(
        Effect.orDie
      )

    /** Revokes every token of a user (a locked account). */
    const revokeAll = (userId: number) =>
      sql`DELETE FROM tokens WHERE user_id = ${userId}`.pipe(Effect.asVoid, Effect.orDie)

    /** Which of these token hashes are still valid (not revoked). */
    const existing = (tokenHashes: ReadonlyArray<string>) =>
      tokenHashes.length === 0
        ? Effect.succeed([])
        : sql<{ token_hash: string }>`SELECT token_hash FROM tokens WHERE token_hash IN ${sql.in(tokenHashes)}`.pipe(
          Effect.map((rows) => rows.map((r) => r.token_hash)),
          Effect.orDie
        )

    return { insert, find, purgeExpired, revoke, revokeAll, existing } as const
  })
}) {}
