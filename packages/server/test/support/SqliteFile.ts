/**
 * Reads a server's database from outside, as another process would: its
 * SQLite file (the contract keeps it readable while the server runs, in WAL
 * mode), or its PostgreSQL database when `file` is a URL.
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { PgClient } from "@effect/sql-pg"
import { SqliteClient } from "@effect/sql-sqlite-node"
import type * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Redacted } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { isPostgresUrl } from "../../src/PgDatabase.ts"
import { pgTypes } from "../../src/PgTypes.ts"

export interface SessionRow {
  readonly id: number
  readonly user_id: number
  readonly ip_address: string | null
  readonly connect_time: string
  readonly disconnect_time: string | null
}

/** Runs `f` with a client on `file` (a SQLite path or a PostgreSQL URL), closed afterwards. */
export const withDatabase = <A, E>(file: string, f: (sql: SqlClient.SqlClient) => Effect.Effect<A, E>) =>
  Effect.scoped(Effect.flatMap(
    isPostgresUrl(file)
      ? Effect.orDie(PgClient.make({ url: Redacted.make(file), types: pgTypes, maxConnections: 1 }))
      : SqliteClient.make({ filename: file, disableWAL: true }),
    f
  )).pipe(
    Effect.provide(Reactivity.layer)
  )

/** Every row of `sessions`. */
export const sessions = (file: string) =>
  withDatabase(
    file,
    (sql) => sql<SessionRow>`SELECT id, user_id, ip_address, connect_time, disconnect_time FROM sessions ORDER BY id`
  )

export interface UserRow {
  readonly id: number
  readonly username: string
  readonly password_hash: string
  readonly created_at: string
  readonly last_login: string | null
}

/** Every row of `users`. */
export const users = (file: string) =>
  withDatabase(
    file,
    (sql) => sql<UserRow>`SELECT id, username, password_hash, created_at, last_login FROM users ORDER BY id`
  )

/** Retries `read` (every 50 ms, up to `timeoutMs`) until `done` holds; returns the last value read. */
export const eventually = <A, E>(read: Effect.Effect<A, E>, done: (a: A) => boolean, timeoutMs = 5000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMs
    while (true) {
      const value = yield* read
      if (done(value) || Date.now() > deadline) return value
      yield* Effect.sleep(50)
    }
  })

/**
 * Everything the database holds, as one string to search: the SQLite file
 * and its companions byte for byte, or every row of every table on PostgreSQL.
 */
export const everythingStored = (file: string): Effect.Effect<string, unknown> =>
  isPostgresUrl(file)
    ? withDatabase(file, (sql) =>
      sql<{ row: string }>`
        SELECT t::text AS row FROM users t UNION ALL SELECT t::text FROM tokens t
        UNION ALL SELECT t::text FROM sessions t UNION ALL SELECT t::text FROM messages t`).pipe(
        Effect.map((rows) => rows.map((r) => r.row).join("\n"))
      )
    : Effect.sync(() => {
      const dir = Path.dirname(file)
      return Fs.readdirSync(dir).map((name) => Fs.readFileSync(Path.join(dir, name)).toString("latin1")).join("\n")
    })
