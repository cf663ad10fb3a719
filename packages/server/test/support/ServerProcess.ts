/**
 * The server suites' way to run the real server: the shared launcher of
 * `@parley/testkit`, on a fresh database of the suite's backend (a SQLite
 * file, or with `PARLEY_TEST_DB=postgres` a PostgreSQL database of its own).
 */
import {
  type ServerProcess,
  type ServerProcessError,
  type SpawnOptions,
  spawnServer as spawnOn,
  tempDb
} from "@parley/testkit"
import { Effect, type Scope } from "effect"

export {
  type Exited,
  repoRoot,
  runServerCommand,
  type ServerProcess,
  ServerProcessError,
  type SpawnOptions,
  tempDb,
  tempDir
} from "@parley/testkit"

/** The backend the server suites run against: `PARLEY_TEST_DB=postgres` for PostgreSQL, SQLite otherwise. */
export const testBackend: "sqlite" | "postgres" = process.env.PARLEY_TEST_DB === "postgres" ? "postgres" : "sqlite"

/** A fresh database of the suite's backend: a SQLite path, or a PostgreSQL URL; removed with the scope. */
export const testDb: Effect.Effect<string, never, Scope.Scope> = Effect.suspend(() =>
  testBackend === "postgres"
    ? Effect.flatMap(Effect.promise(() => import("./Postgres.ts")), (pg) => pg.freshPgDatabase)
    : tempDb
)

/** Starts a server process on the suite's backend (unless `db` is given) and waits until it listens. */
export const spawnServer = (
  options: SpawnOptions = {}
): Effect.Effect<ServerProcess, ServerProcessError, Scope.Scope> =>
  Effect.flatMap(options.db === undefined ? testDb : Effect.succeed(options.db), (db) => spawnOn({ ...options, db }))
