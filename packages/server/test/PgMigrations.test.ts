/**
 * The PostgreSQL schema is created by whichever server starts first: two
 * server processes started at the same moment on one empty database both
 * come up (the migration runs under an advisory lock, so the second waits
 * and then finds nothing to do), and the migration is recorded once.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { PgDatabase } from "../src/PgDatabase.ts"
import { pgMigrations } from "../src/PgMigrations.ts"
import { ServerConfig } from "../src/ServerConfig.ts"
import { freshPgDatabase, postgresAvailable } from "./support/Postgres.ts"
import { spawnServer } from "./support/ServerProcess.ts"
import { withDatabase } from "./support/SqliteFile.ts"
import { logIn, signUp } from "./support/Wire.ts"

const allMigrations = Object.keys(pgMigrations).map((name) => Number.parseInt(name, 10))

describe.skipIf(!postgresAvailable)("PostgreSQL migrations", () => {
  it.scopedLive(
    "six migrators started in the same moment on one empty database (six pools): none fails, the schema is migrated once",
    () =>
      Effect.gen(function*() {
        const db = yield* freshPgDatabase
        const migrated = PgDatabase.pipe(Layer.provide(ServerConfig.layer({ db })))
        yield* Effect.all(Array.from({ length: 6 }, () => Layer.build(migrated)), { concurrency: "unbounded" })
        const rows = yield* withDatabase(db, (sql) =>
          sql<{ migration_id: number }>`SELECT migration_id FROM effect_sql_migrations`)
        assert.deepStrictEqual(
          rows.map((r) =>
            r.migration_id
          ),
          allMigrations
        )
      }),
    { timeout: 60_000 }
  )

  it.scopedLive(
    "two servers starting at once on one empty database both serve, and the schema is migrated once",
    () =>
      Effect.gen(function*() {
        const db = yield* freshPgDatabase
        const [one, two] = yield* Effect.all([spawnServer({ db }), spawnServer({ db })], { concurrency: 2 })
        const applied = [one, two].filter((s) => s.output().includes("applied migration 1_initial"))
        assert.strictEqual(applied.length, 1, `${one.output()}\n---\n${two.output()}`)
        const rows = yield* withDatabase(
          db,
          (sql) => sql<{ migration_id: number }>`SELECT migration_id FROM effect_sql_migrations`
        )
        assert.deepStrictEqual(rows.map((r) => r.migration_id), allMigrations)
        // one database behind both: an account made on one logs in on the other
        yield* signUp(one.port, "alice")
        const { connected } = yield* logIn(two.port, "alice")
        assert.strictEqual(connected.user, "alice")
      }),
    { timeout: 60_000 }
  )
})
