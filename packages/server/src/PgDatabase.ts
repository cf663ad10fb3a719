/**
 * The PostgreSQL backend: `SqlClient` on `@effect/sql-pg` (a pool), the
 * schema migrated at start under an advisory lock (two servers starting at
 * once on one database take turns), and `PgMessageStore` under the group
 * commit. Everything PostgreSQL-only lives here, below the storage seam.
 */
import { PgClient } from "@effect/sql-pg"
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Layer, Redacted } from "effect"
import { GroupCommit } from "./GroupCommit.ts"
import { PgMessageStore } from "./PgMessageStore.ts"
import { pgMigrations } from "./PgMigrations.ts"
import { pgTypes } from "./PgTypes.ts"
import { ServerConfig } from "./ServerConfig.ts"
import { StorageHealth } from "./StorageHealth.ts"

/** `pg_advisory_xact_lock` key held while migrating ("PARLEY S" in ASCII). */
const MIGRATION_LOCK = 0x5041524c45592d53n.toString()

/** Whether `--db` names a PostgreSQL database rather than a SQLite file. */
export const isPostgresUrl = (db: string) => /^postgres(ql)?:\/\//i.test(db)

/** The URL with its password replaced, for logs and the start-up line. */
export const redactUrl = (db: string) => {
  if (!isPostgresUrl(db)) return db
  try {
    const url = new URL(db)
    if (url.password !== "") url.password = "***"
    return url.toString()
  } catch {
    return db.replace(/\/\/([^:/@]*):[^@]*@/, "//$1:***@")
  }
}

const migrate = Layer.effectDiscard(
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const applied = yield* sql.withTransaction(
      Effect.gen(function*() {
        yield* sql.unsafe("SELECT pg_advisory_xact_lock($1::int8)", [MIGRATION_LOCK])
        // the Migrator probes for its table with a query that fails when it is missing, which
        // would abort this transaction: create it first (its own definition), under the lock
        yield* sql`CREATE TABLE IF NOT EXISTS effect_sql_migrations (
          migration_id integer primary key,
          created_at timestamp with time zone not null default now(),
          name text not null
        )`
        return yield* Migrator.make({})({ loader: Migrator.fromRecord(pgMigrations) })
      })
    )
    for (const [id, name] of applied) yield* Effect.logInfo(`applied migration ${id}_${name}`)
  }).pipe(Effect.orDie)
)

/** PgClient on the configured URL, migrated. */
export const PgDatabase = Layer.provideMerge(
  migrate,
  Layer.unwrapEffect(
    Effect.map(ServerConfig, (config) =>
      PgClient.layer({
        url: Redacted.make(config.db),
        applicationName: "parley",
        types: pgTypes
      }))
  ).pipe(Layer.orDie)
)

/** The PostgreSQL backend's storage: `SqlClient` and the group commit on `PgMessageStore`. */
export const PgStorage = GroupCommit.Default.pipe(
  Layer.provideMerge(StorageHealth.Default),
  Layer.provideMerge(PgMessageStore),
  Layer.provideMerge(PgDatabase)
)
