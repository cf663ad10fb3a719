/**
 * The server's metrics: one prom-client `Registry` per server instance (never
 * the library's global one, so two servers in one process count apart) and
 * every `parley_*` instrument in it, named and explained in one place.
 *
 * Counters are bumped where things happen, once per batch or broadcast rather
 * than once per message or recipient (the MSG fan-out is the hot path). Gauges
 * of state the server holds anyway (open connections, users online, the hash
 * queue, storage) are read at scrape time from sources their owners register,
 * so keeping them current costs nothing between scrapes.
 */
import { ByeReason, ErrorCode } from "@parley/protocol"
import { Effect } from "effect"
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client"

/** Why a connection ended, as `parley_connections_closed_total` labels it. */
export type CloseReason = ByeReason | "disconnect" | "peer_closed"

const closeReasons: ReadonlyArray<CloseReason> = [...ByeReason.literals, "disconnect", "peer_closed"]

/** A figure read at scrape time (a promise for one that needs I/O, such as the storage probe). */
export type Reader = () => number | Promise<number>

/** The gauges read at scrape time, each set by the service that holds the state. */
export interface Sources {
  connectionsOpen: Reader
  connectionsAuthenticated: Reader
  usersOnline: Reader
  hashesWaiting: Reader
  hashesRunning: Reader
  storageUp: Reader
}

const zero: Reader = () => 0

/** A gauge whose value is read from `read()` when it is scraped. */
const readGauge = (registry: Registry, name: string, help: string, read: () => number | Promise<number>) =>
  new Gauge({
    name,
    help,
    registers: [registry],
    async collect() {
      this.set(await read())
    }
  })

const make = () => {
  const registry = new Registry()
  const registers = [registry]
  const sources: Sources = {
    connectionsOpen: zero,
    connectionsAuthenticated: zero,
    usersOnline: zero,
    hashesWaiting: zero,
    hashesRunning: zero,
    storageUp: zero
  }

  readGauge(registry, "parley_connections_open", "Connections currently open (accepted and not yet closed).", () => sources.connectionsOpen())
  readGauge(registry, "parley_connections_authenticated", "Open connections that have logged in with CONNECT.", () => sources.connectionsAuthenticated())
  readGauge(registry, "parley_users_online", "Distinct users with at least one authenticated connection.", () => sources.usersOnline())
  readGauge(registry, "parley_storage_up", "1 when a write through the group commit succeeded within 2 s at the last probe (cached 1 s), 0 otherwise.", () => sources.storageUp())
  new Gauge({
    name: "parley_password_hash_queue",
    help: "Password hashes (REGISTER, CONNECT) waiting for a slot or running.",
    labelNames: ["state"] as const,
    registers,
    async collect() {
      this.set({ state: "waiting" }, await sources.hashesWaiting())
      this.set({ state: "running" }, await sources.hashesRunning())
    }
  })

  const accepted = new Counter({ name: "parley_connections_accepted_total", help: "TCP connections accepted, including those refused at once with BYE too_many_connections.", registers })
  const closed = new Counter({ name: "parley_connections_closed_total", help: "Connections closed, by reason (a BYE reason, disconnect, or peer_closed).", labelNames: ["reason"] as const, registers })
  const stored = new Counter({ name: "parley_messages_stored_total", help: "Messages committed to the database (a resent client_msg_id is not stored again), by kind.", labelNames: ["kind"] as const, registers })
  const deliveries = new Counter({ name: "parley_message_deliveries_total", help: "MESSAGE frames queued to recipients' connections by the live fan-out (one per recipient connection).", registers })
  const replayed = new Counter({ name: "parley_messages_replayed_total", help: "MESSAGE frames replayed after CONNECT.", registers })
  const errors = new Counter({ name: "parley_errors_sent_total", help: "ERROR frames sent to clients, by code.", labelNames: ["code"] as const, registers })
  const batchSize = new Histogram({
    name: "parley_group_commit_batch_size",
    help: "Writes committed per group commit batch (messages and other writes).",
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000],
    registers
  })
  const batchSeconds = new Histogram({
    name: "parley_group_commit_duration_seconds",
    help: "Time to commit one group commit batch, from its start to its results being delivered.",
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers
  })

  // bound once, and at 0 from the start: a series that appears only on its first event hides that event from rate()
  const closedBy = Object.fromEntries(closeReasons.map((reason) => [reason, closed.labels(reason)])) as Record<CloseReason, { inc(n?: number): void }>
  const errorsBy = Object.fromEntries(ErrorCode.literals.map((code) => [code, errors.labels(code)])) as Record<ErrorCode, { inc(n?: number): void }>
  for (const child of [...Object.values(closedBy), ...Object.values(errorsBy)]) child.inc(0)
  const storedPublic = stored.labels("public")
  const storedDirect = stored.labels("direct")
  storedPublic.inc(0)
  storedDirect.inc(0)

  let processMetrics = false
  return {
    registry,
    /** Sets where a scrape-time gauge reads its value. */
    source: <K extends keyof Sources>(name: K, read: Reader): void => {
      sources[name] = read
    },
    connectionAccepted: (): void => accepted.inc(),
    connectionClosed: (reason: CloseReason): void => closedBy[reason].inc(),
    messagesStored: (publicCount: number, directCount: number): void => {
      if (publicCount > 0) storedPublic.inc(publicCount)
      if (directCount > 0) storedDirect.inc(directCount)
    },
    delivered: (frames: number): void => {
      if (frames > 0) deliveries.inc(frames)
    },
    replayed: (frames: number): void => {
      if (frames > 0) replayed.inc(frames)
    },
    errorSent: (code: ErrorCode): void => errorsBy[code].inc(),
    batchCommitted: (writes: number, seconds: number): void => {
      batchSize.observe(writes)
      batchSeconds.observe(seconds)
    },
    /**
     * Adds the process's own metrics (memory, CPU, open file descriptors,
     * event-loop delay, GC), once. Only a server that serves its metrics pays
     * for them: the event-loop monitor and the GC observer run from here on.
     */
    collectProcessMetrics: (): void => {
      if (processMetrics) return
      processMetrics = true
      collectDefaultMetrics({ register: registry })
    }
  } as const
}

export class Metrics extends Effect.Service<Metrics>()("@parley/server/Metrics", {
  sync: make
}) {}
