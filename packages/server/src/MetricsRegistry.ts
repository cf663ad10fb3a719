/**
 * The prom-client registry of one server, built from its `Metrics` when the
 * metrics endpoint is served: every `parley_*` family with its HELP, read
 * from the plain counts and sources at scrape time, the group commit
 * histograms fed as batches complete, and the process's default metrics.
 * The registry is the server's own, never prom-client's global one.
 */
import { ErrorCode } from "@parley/protocol"
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client"
import { closeReasons, type Metrics } from "./Metrics.ts"

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

/** A counter whose value is read from `read()` when it is scraped. */
const readCounter = (registry: Registry, name: string, help: string, read: () => number) =>
  new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset()
      this.inc(read())
    }
  })

/** A counter with one label, each value's count read from `counts` when it is scraped. */
const readLabelledCounter = <K extends string>(
  registry: Registry,
  name: string,
  help: string,
  label: string,
  keys: ReadonlyArray<K>,
  counts: () => Readonly<Record<K, number>>
) =>
  new Counter({
    name,
    help,
    labelNames: [label],
    registers: [registry],
    collect() {
      this.reset()
      const values = counts()
      for (const k of keys) this.inc({ [label]: k }, values[k])
    }
  })

const gauges = (registry: Registry, { sources }: Metrics): void => {
  readGauge(
    registry,
    "parley_connections_open",
    "Connections currently open (accepted and not yet closed).",
    () => sources.connectionsOpen()
  )
  readGauge(
    registry,
    "parley_connections_authenticated",
    "Open connections that have logged in with CONNECT.",
    () => sources.connectionsAuthenticated()
  )
  readGauge(
    registry,
    "parley_users_online",
    "Distinct users with at least one authenticated connection.",
    () => sources.usersOnline()
  )
  readGauge(
    registry,
    "parley_storage_up",
    "1 when a write through the group commit succeeded within 2 s at the last probe (cached 1 s), 0 otherwise.",
    () => sources.storageUp()
  )
  readGauge(
    registry,
    "parley_cluster_bus_up",
    "1 while this node's cluster bus is reachable, 0 while it is not; always 1 without --bus.",
    () => sources.busUp()
  )
  new Gauge({
    name: "parley_password_hash_queue",
    help: "Password hashes (REGISTER, CONNECT) waiting for a slot or running.",
    labelNames: ["state"],
    registers: [registry],
    async collect() {
      this.set({ state: "waiting" }, await sources.hashesWaiting())
      this.set({ state: "running" }, await sources.hashesRunning())
    }
  })
}

const counters = (registry: Registry, { counts }: Metrics): void => {
  readCounter(
    registry,
    "parley_connections_accepted_total",
    "Connections accepted (TCP, TLS and WebSocket), including those refused at once with BYE too_many_connections.",
    () => counts.accepted
  )
  readLabelledCounter(
    registry,
    "parley_connections_closed_total",
    "Connections closed, by reason (a BYE reason, disconnect, or peer_closed).",
    "reason",
    closeReasons,
    () => counts.closed
  )
  readLabelledCounter(
    registry,
    "parley_messages_stored_total",
    "Messages committed to the database (a resent client_msg_id is not stored again), by kind.",
    "kind",
    ["public", "direct"],
    () => ({ public: counts.storedPublic, direct: counts.storedDirect })
  )
  readCounter(
    registry,
    "parley_message_deliveries_total",
    "MESSAGE frames queued to recipients' connections by the live fan-out (one per recipient connection).",
    () => counts.deliveries
  )
  readCounter(
    registry,
    "parley_messages_replayed_total",
    "MESSAGE frames replayed after CONNECT.",
    () => counts.replayed
  )
  readCounter(
    registry,
    "parley_cluster_gap_repairs_total",
    "Reads of PostgreSQL for messages the cluster bus had not brought within the gap wait (a lost or late notice).",
    () => counts.gapRepairs
  )
  readLabelledCounter(
    registry,
    "parley_errors_sent_total",
    "ERROR frames sent to clients, by code.",
    "code",
    ErrorCode.literals,
    () => counts.errors
  )
}

const histograms = (registry: Registry, metrics: Metrics): void => {
  const batchSize = new Histogram({
    name: "parley_group_commit_batch_size",
    help: "Writes committed per group commit batch (messages and other writes).",
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000],
    registers: [registry]
  })
  const batchSeconds = new Histogram({
    name: "parley_group_commit_duration_seconds",
    help: "Time to commit one group commit batch, from its start to its results being delivered.",
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry]
  })
  metrics.observeBatches((writes, seconds) => {
    batchSize.observe(writes)
    batchSeconds.observe(seconds)
  })
}

/**
 * A registry of this server's metrics, with the process's own (memory, CPU,
 * open file descriptors, event-loop delay, GC): the event-loop monitor and the
 * GC observer run from here on.
 */
export const makeRegistry = (metrics: Metrics): Registry => {
  const registry = new Registry()
  gauges(registry, metrics)
  counters(registry, metrics)
  histograms(registry, metrics)
  collectDefaultMetrics({ register: registry })
  return registry
}
