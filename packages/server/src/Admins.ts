/**
 * `parley-server admin grant|revoke|list`: the operator appoints server
 * admins (docs/protocol.md, "Server admins and locked accounts") on the
 * server's machine, with the server running or not. The flag is a column of
 * `users`, read by the running server at every command that needs it, so a
 * grant or revoke takes effect at once without a restart.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Console, Data, Effect, Layer } from "effect"
import { isPostgresUrl, PgDatabase } from "./PgDatabase.ts"
import { ServerConfig } from "./ServerConfig.ts"
import { SqliteDatabase } from "./SqliteDatabase.ts"

/** Why nothing was changed, in one line for the operator. */
export class AdminError extends Data.TaggedError("AdminError")<{ readonly message: string }> {}

export type AdminAction = "grant" | "revoke" | "list"

/** The database of `--db` (a SQLite file or a PostgreSQL URL), migrated as the server would. */
const database = (db: string) =>
  (isPostgresUrl(db) ? PgDatabase : SqliteDatabase).pipe(Layer.provide(ServerConfig.layer({ db })))

const setAdmin = (username: string, admin: boolean) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ username: string }>`
      UPDATE users SET is_admin = ${admin ? 1 : 0} WHERE username = ${username} RETURNING username`
    const name = rows[0]?.username
    if (name === undefined) return yield* new AdminError({ message: `no user named ${username}` })
    yield* Console.log(admin ? `${name} is a server admin` : `${name} is no longer a server admin`)
  })

const list = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ username: string }>`SELECT username FROM users WHERE is_admin = 1 ORDER BY username`
  yield* Console.log(rows.length === 0 ? "no server admins" : rows.map((r) => r.username).join("\n"))
})

/** Runs one admin action against `db`; prints what it did. */
export const admin = (action: AdminAction, username: string | undefined, db: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    // a running server may hold SQLite's write lock for a moment: wait for it here (the server never waits)
    if (!isPostgresUrl(db)) yield* sql.unsafe("PRAGMA busy_timeout = 5000")
    if (action === "list") return yield* list
    if (username === undefined) return yield* new AdminError({ message: `admin ${action} needs a username` })
    return yield* setAdmin(username, action === "grant")
  }).pipe(
    Effect.catchTag("SqlError", (error) => Effect.fail(new AdminError({ message: error.message }))),
    Effect.provide(database(db))
  )
