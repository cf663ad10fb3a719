/**
 * Whether the server is healthy, as `/healthz` and `parley_storage_up` say:
 * it accepts connections, and a write through the group commit (a statement
 * that takes the database's write lock and changes no row) completes within
 * 2 s. The storage probe's result is kept for 1 s, and callers that arrive
 * while a probe runs wait for that one, so a storm of scrapes costs at most
 * one probe a second.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Cause, Effect, Runtime } from "effect"
import { GroupCommit } from "./GroupCommit.ts"
import { Metrics } from "./Metrics.ts"
import { Listener } from "./Server.ts"
import { describeFault, isStorageFault } from "./StorageHealth.ts"

/** The contract's bound: healthy means the database took a write within this. */
export const PROBE_TIMEOUT_MS = 2000
/** How long a probe's result stands for later callers. */
export const PROBE_CACHE_MS = 1000

export interface Health {
  readonly ok: boolean
  /** One line: what is wrong, or `ok`. */
  readonly reason: string
}

/** The line for a probe that failed. */
const problem = (cause: Cause.Cause<unknown>): string =>
  isStorageFault(cause)
    ? `storage unavailable: ${describeFault(cause)}`
    : `storage check failed: ${describeFault(cause)}`

export class HealthCheck extends Effect.Service<HealthCheck>()("@parley/server/HealthCheck", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const commit = yield* GroupCommit
    const metrics = yield* Metrics
    const { listening } = yield* Listener
    // a write statement, so SQLite needs its write lock (a read would pass while another process
    // holds the file with BEGIN EXCLUSIVE) and PostgreSQL a writable primary; no row matches
    const write = Effect.orDie(sql`UPDATE users SET id = id WHERE id = -1`)
    const probe: Effect.Effect<string | undefined> = commit.write(write).pipe(
      Effect.as(undefined),
      Effect.catchAllCause((cause) => Effect.succeed(problem(cause))),
      Effect.timeoutTo({
        duration: PROBE_TIMEOUT_MS,
        onSuccess: (result): string | undefined => result,
        onTimeout: () => `storage unavailable: no write completed within ${PROBE_TIMEOUT_MS / 1000} s`
      })
    )
    const storage = yield* Effect.cachedWithTTL(probe, PROBE_CACHE_MS)

    const check: Effect.Effect<Health> = Effect.suspend(() =>
      listening()
        ? Effect.map(storage, (reason) => (reason === undefined ? { ok: true, reason: "ok" } : { ok: false, reason }))
        : Effect.succeed({ ok: false, reason: "not accepting connections" })
    )

    const runPromise = Runtime.runPromise(yield* Effect.runtime<never>())
    metrics.source("storageUp", () => runPromise(Effect.map(storage, (reason) => (reason === undefined ? 1 : 0))))
    return { check } as const
  })
}) {}
