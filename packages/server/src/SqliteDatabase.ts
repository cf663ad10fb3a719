/**
 * The SQLite backend: `SqlClient` on the file, in WAL mode, with the schema's
 * migrations applied at start and the WAL copied back by the `Checkpointer`
 * for as long as it is open; its `MessageStore` is the `MessageWriter`, and
 * its DM conversations are indexed by `DirectIndex`. Everything SQLite-only
 * lives here, below the storage seam.
 */
import { SqliteClient } from "@effect/sql-sqlite-node"
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect, Layer, Runtime } from "effect"
import { BACKSTOP_PAGES, CHECKPOINT_EVERY_MS, checkpointer } from "./Checkpointer.ts"
import { DirectIndex } from "./DirectIndex.ts"
import { GroupCommit } from "./GroupCommit.ts"
import { SqliteMessageStore } from "./MessageWriter.ts"
import { migrations } from "./Migrations.ts"
import { ServerConfig } from "./ServerConfig.ts"
import { StorageHealth } from "./StorageHealth.ts"

const setup = Layer.scopedDiscard(
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const config = yield* ServerConfig
    // WAL is set by SqliteClient. NORMAL: a commit survives a process crash but
    // not a power loss; FULL: an fsync per group commit, surviving both.
    yield* sql.unsafe(`PRAGMA synchronous = ${config.synchronous === "full" ? "FULL" : "NORMAL"}`)
    yield* sql.unsafe("PRAGMA foreign_keys = ON")
    // never wait on a lock: SQLite's busy wait would run on the event loop and stall every
    // connection; another process holding the file gets UNAVAILABLE answered at once instead
    yield* sql.unsafe("PRAGMA busy_timeout = 0")
    // the checkpointer copies the WAL back off the event loop
    yield* sql.unsafe(`PRAGMA wal_autocheckpoint = ${BACKSTOP_PAGES}`)
    const applied = yield* Migrator.make({})({ loader: Migrator.fromRecord(migrations) })
    for (const [id, name] of applied) yield* Effect.logInfo(`applied migration ${id}_${name}`)
    const runtime = yield* Effect.runtime<never>()
    yield* checkpointer(
      config.db,
      CHECKPOINT_EVERY_MS,
      (message) => Runtime.runFork(runtime)(Effect.logWarning("WAL checkpoint failed", message))
    )
  }).pipe(Effect.orDie)
)

/** SqliteClient on the configured file, migrated. */
export const SqliteDatabase = Layer.provideMerge(
  setup,
  Layer.unwrapEffect(
    Effect.map(ServerConfig, (config) => SqliteClient.layer({ filename: config.db }))
  ).pipe(Layer.orDie)
)

/** The SQLite backend's storage: `SqlClient`, the group commit on the `MessageWriter`, the DM index. */
export const SqliteStorage = DirectIndex.Default.pipe(
  Layer.provideMerge(GroupCommit.Default),
  Layer.provideMerge(StorageHealth.Default),
  Layer.provideMerge(SqliteMessageStore),
  Layer.provideMerge(SqliteDatabase)
)
