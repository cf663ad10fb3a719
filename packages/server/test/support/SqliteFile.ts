/**
 * Reads a server's SQLite file from outside, as another process would
 * (the contract keeps it readable while the server runs, in WAL mode).
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import { SqliteClient } from "@effect/sql-sqlite-node"
import { Effect } from "effect"

export interface SessionRow {
  readonly id: number
  readonly user_id: number
  readonly ip_address: string | null
  readonly connect_time: string
  readonly disconnect_time: string | null
}

/** Runs `f` with a client on `file`, closed afterwards. */
export const withDatabase = <A, E>(file: string, f: (sql: SqliteClient.SqliteClient) => Effect.Effect<A, E>) =>
  Effect.scoped(Effect.flatMap(SqliteClient.make({ filename: file, disableWAL: true }), f)).pipe(
    Effect.provide(Reactivity.layer)
  )

/** Every row of `sessions`. */
export const sessions = (file: string) =>
  withDatabase(file, (sql) => sql<SessionRow>`SELECT id, user_id, ip_address, connect_time, disconnect_time FROM sessions ORDER BY id`)

export interface UserRow {
  readonly id: number
  readonly username: string
  readonly password_hash: string
  readonly created_at: string
  readonly last_login: string | null
}

/** Every row of `users`. */
export const users = (file: string) =>
  withDatabase(file, (sql) => sql<UserRow>`SELECT id, username, password_hash, created_at, last_login FROM users ORDER BY id`)

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
