/**
 * WAL checkpoints off the event loop. SQLite copies the write-ahead log back
 * into the database file every 1,000 pages by default, inside the commit that
 * crossed the mark: under load that was a copy and two fsyncs, 5–10 ms of
 * blocked event loop about twice a second, in every latency. Here a worker
 * thread with a connection of its own runs a PASSIVE checkpoint (it never
 * waits for, nor blocks, a writer) every `everyMs`. Under a steady stream of
 * commits the log is never quite all copied when the next one starts, so
 * SQLite cannot start it over from the top: it grows to `BACKSTOP_PAGES`
 * (64 MiB), where the writer's own checkpoint finds nearly every page
 * already copied, finishes in one fsync, and the log starts over. Idle, the
 * worker's checkpoints find nothing to do.
 */
import { Effect } from "effect"
import { createRequire } from "node:module"
import { Worker } from "node:worker_threads"

/** How often the worker copies the WAL back (~1,000 pages at 5,000 msg/s). */
export const CHECKPOINT_EVERY_MS = 250

/** Pages of WAL past which the writers checkpoint on their own. */
export const BACKSTOP_PAGES = 16_384

const source = `
const { parentPort, workerData } = require("node:worker_threads")
const Database = require(workerData.driver)
const db = new Database(workerData.file)
db.pragma("busy_timeout = 1000")
let failed = false
const timer = setInterval(() => {
  try {
    db.pragma("wal_checkpoint(PASSIVE)")
    failed = false
  } catch (e) {
    // said once per run of failures, not every tick
    if (!failed) parentPort.postMessage(String(e && e.message || e))
    failed = true
  }
}, workerData.everyMs)
parentPort.on("message", () => {
  clearInterval(timer)
  db.close()
  parentPort.close()
})
`

/** Runs the checkpointer for the scope's lifetime; `onError` hears a failing checkpoint (once per run of failures). */
export const checkpointer = (file: string, everyMs: number, onError: (message: string) => void) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const driver = createRequire(import.meta.url).resolve("better-sqlite3")
      const worker = new Worker(source, { eval: true, workerData: { file, everyMs, driver } })
      worker.on("message", (message: string) => onError(message))
      worker.on("error", (e) => onError(String(e)))
      worker.unref()
      return worker
    }),
    (worker) =>
      Effect.async<void>((resume) => {
        worker.once("exit", () => resume(Effect.void))
        worker.postMessage("stop")
        const kill = setTimeout(() => void worker.terminate(), 2000)
        kill.unref()
      })
  )
