/**
 * Storage faults: the database down, unreachable, locked by another process
 * or out of space. A command that meets one is answered `UNAVAILABLE` with
 * `retry_after_ms` (nothing was stored, the connection stays open), never
 * `INTERNAL`; the outage is logged once when it starts and once when it ends,
 * not once per command. Recovery needs nothing from here: the PostgreSQL pool
 * opens new connections on the next query, and SQLite's next transaction
 * simply succeeds once the lock or the space is back.
 */
import { Unavailable } from "@parley/protocol"
import { Cause, Clock, Effect, Option } from "effect"

/** What a client is told to wait before it retries. */
export const RETRY_AFTER_MS = 1000

/** Error codes that mean "the database cannot be reached or written now", whatever the driver. */
const FAULT_CODES = new Set([
  // SQLite (better-sqlite3 `code`)
  "SQLITE_BUSY",
  "SQLITE_LOCKED",
  "SQLITE_FULL",
  "SQLITE_IOERR",
  "SQLITE_CANTOPEN",
  "SQLITE_READONLY",
  // the network (node-postgres socket errors)
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ENOSPC",
  // PostgreSQL SQLSTATEs: out of disk or memory, shutting down, not accepting connections, read-only
  "53100",
  "53200",
  "53300",
  "57P01",
  "57P02",
  "57P03",
  "25006"
])

/** node-postgres messages for a connection that went away (they carry no code). */
const FAULT_MESSAGES =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Connection ended|the database system is (starting up|shutting down)|Failed to connect|Connection timed out/i

/** Whether an error (or one in its `cause` chain) means the database cannot be reached or written now. */
export const isFaultError = (error: unknown, depth = 0): boolean => {
  if (depth > 8 || error === null || typeof error !== "object") return false
  const code = (error as { code?: unknown }).code
  if (
    typeof code === "string" &&
    (FAULT_CODES.has(code) || code.startsWith("SQLITE_IOERR") || code.startsWith("SQLITE_BUSY") ||
      code.startsWith("08"))
  ) return true
  const message = (error as { message?: unknown }).message
  if (typeof message === "string" && FAULT_MESSAGES.test(message)) return true
  return isFaultError((error as { cause?: unknown }).cause, depth + 1)
}

/** Whether a failure holds a database error of any kind (a driver's or @effect/sql's). */
export const isDatabaseError = (cause: Cause.Cause<unknown>): boolean =>
  [...Cause.defects(cause), ...Cause.failures(cause)].some((e) =>
    typeof e === "object" && e !== null &&
    ((e as { _tag?: unknown })._tag === "SqlError" || isFaultError(e) ||
      /Cannot open database|unable to open database/i.test(String((e as { message?: unknown }).message)))
  )

/** Whether a failure (a defect from a repository, a failed group commit) is a storage fault. */
export const isStorageFault = (cause: Cause.Cause<unknown>): boolean =>
  [...Cause.defects(cause), ...Cause.failures(cause)].some((e) => isFaultError(e))

/** A short description of a failure for a log or an error line: the driver's messages, without a stack. */
export const describeFault = (cause: Cause.Cause<unknown>): string => {
  const first = Option.getOrUndefined(Option.orElse(Cause.dieOption(cause), () => Cause.failureOption(cause)))
  const chain: Array<string> = []
  let e: unknown = first
  while (e !== null && typeof e === "object" && chain.length < 4) {
    const m = (e as { message?: unknown }).message
    if (typeof m === "string" && m !== "" && !chain.includes(m)) chain.push(m)
    e = (e as { cause?: unknown }).cause
  }
  return chain.join(": ") || "unknown fault"
}

export const unavailable = new Unavailable({
  message: "the database cannot be reached or written right now; nothing was stored: retry later",
  retryAfterMs: RETRY_AFTER_MS
})

/** Logs an outage once when it starts and once when it ends. */
export class StorageHealth extends Effect.Service<StorageHealth>()("@parley/server/StorageHealth", {
  sync: () => {
    let downSince: number | undefined
    let faults = 0
    /** A storage fault happened. */
    const fault = (cause: Cause.Cause<unknown>) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        faults++
        if (downSince !== undefined) return Effect.void
        downSince = now
        return Effect.logWarning(`storage unavailable: ${describeFault(cause)}; answering UNAVAILABLE until it is back`)
      })
    /** A write went through. */
    const ok = Effect.suspend(() => (downSince === undefined ? Effect.void : recovered))
    const recovered = Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const seconds = ((now - (downSince ?? now)) / 1000).toFixed(1)
      const refused = faults
      downSince = undefined
      faults = 0
      return Effect.logWarning(
        `storage available again after ${seconds} s (${refused} commands answered UNAVAILABLE meanwhile)`
      )
    })
    return { fault, ok } as const
  }
}) {}
