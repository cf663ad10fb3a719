/**
 * Accounts in `users`. Names are unique without regard to case (the column
 * is `COLLATE NOCASE`; names are ASCII by the protocol's rule).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Option } from "effect"

export interface UserRow {
  readonly id: number
  readonly username: string
  readonly password_hash: string
}

export class UsersRepo extends Effect.Service<UsersRepo>()("@parley/server/UsersRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    // names never change, so lookups by name are cached (the hot path of every DM)
    const byName = new Map<string, { readonly id: number; readonly username: string }>()

    const findByName = (name: string) =>
      sql<UserRow>`SELECT id, username, password_hash FROM users WHERE username = ${name}`.pipe(
        Effect.map((rows) => Option.fromNullable(rows[0])),
        Effect.orDie
      )

    /** Resolves a name to the account's id and registered spelling. */
    const resolve = (
      name: string
    ): Effect.Effect<Option.Option<{ readonly id: number; readonly username: string }>> => {
      const cached = byName.get(name.toLowerCase())
      if (cached !== undefined) return Effect.succeed(Option.some(cached))
      return Effect.map(findByName(name), (row) =>
        Option.map(row, (r) => {
          const entry = { id: r.id, username: r.username }
          byName.set(r.username.toLowerCase(), entry)
          return entry
        }))
    }

    /** Creates an account; `None` when the name is taken. */
    const create = (username: string, passwordHash: string, now: string) =>
      sql<{ id: number }>`
        INSERT INTO users (username, password_hash, created_at) VALUES (${username}, ${passwordHash}, ${now})
        ON CONFLICT DO NOTHING RETURNING id`.pipe(
        Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), (r) => r.id)),
        Effect.orDie
      )

    const touchLogin = (id: number, now: string) =>
      sql`UPDATE users SET last_login = ${now} WHERE id = ${id}`.pipe(Effect.asVoid, Effect.orDie)

    /** The cached account for a name, if it was resolved before (no query). */
    const cached = (name: string) => byName.get(name.toLowerCase())

    /** Whether a user is a server admin, and since when they are locked (null: not locked). */
    const standing = (id: number) =>
      sql<{ is_admin: number; locked_at: string | null }>`SELECT is_admin, locked_at FROM users WHERE id = ${id}`.pipe(
        Effect.map((rows) => ({ admin: Number(rows[0]?.is_admin ?? 0) === 1, lockedAt: rows[0]?.locked_at ?? null })),
        Effect.orDie
      )

    /** Locks (`at`) or unlocks (null) an account (for the group commit). */
    const setLocked = (id: number, at: string | null) =>
      sql`UPDATE users SET locked_at = ${at} WHERE id = ${id}`.pipe(Effect.asVoid, Effect.orDie)

    return { findByName, resolve, cached, create, touchLogin, standing, setLocked } as const
  })
}) {}
