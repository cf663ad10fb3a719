/**
 * The server's metrics: one prom-client `Registry` per server instance (never
 * the library's global one, so two servers in one process count apart) and
 * every `parley_*` instrument in it, named and explained in one place.
 *
 * Counters are bumped where things happen, once per batch or broadcast rather
 * than once per message or recipient (the MSG fan-out is the hot path). The
 * ones bumped on that path (messages stored, deliveries, replays) are plain
 * numbers folded into their counters at scrape time: prom-client hashes the
 * labels on every `inc`, even through a bound child (about 250 ns for two
 * labelled `inc`s against 16 ns for the plain additions). Gauges of state the
 * server holds anyway (open connections, users online, the hash queue,
 * storage) are read at scrape time from sources their owners register, so
 * keeping them current costs nothing between scrapes.
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

/** The gauges read at scrape time, from `sources`. */
const scrapeTimeGauges = (registry: Registry, sources: Sources): void => {
  readGauge(registry, "parley_connections_open", "Connections currently open (accepted and not yet closed).", () => sources.connectionsOpen())
  readGauge(registry, "parley_connections_authenticated", "Open connections that have logged in with CONNECT.", () => sources.connectionsAuthenticated())
  readGauge(registry, "parley_users_online", "Distinct users with at least one authenticated connection.", () => sources.usersOnline())
  readGauge(registry, "parley_storage_up", "1 when a write through the group commit succeeded within 2 s at the last probe (cached 1 s), 0 otherwise.", () => sources.storageUp())
  new Gauge({
    name: "parley_password_hash_queue",
    help: "Password hashes (REGISTER, CONNECT) waiting for a slot or running.",
    labelNames: ["state"] as const,
    registers: [registry],
    async collect() {
      this.set({ state: "waiting" }, await sources.hashesWaiting())
      this.set({ state: "running" }, await sources.hashesRunning())
    }
  })
}

type Child = { inc(n?: number): void }

/** One bound child per label value, each at 0 from the start: a series that appears only on its first event hides that event from rate(). */
const children = <L extends string>(counter: Counter<string>, values: ReadonlyArray<L>): Record<L, Child> => {
  const bound = {} as Record<L, Child>
  for (const v of values) {
    bound[v] = counter.labels(v)
    bound[v].inc(0)
  }
  return bound
}

/** The hot path's counts, as plain numbers. */
interface Tallies {
  storedPublic: number
  storedDirect: number
  deliveries: number
  replayed: number
}

/** The counters of the hot path, set from `tallies` when scraped. */
const talliedCounters = (registry: Registry, tallies: Tallies): void => {
  const registers = [registry]
  new Counter({
    name: "parley_messages_stored_total",
    help: "Messages committed to the database (a resent client_msg_id is not stored again), by kind.",
    labelNames: ["kind"],
    registers,
    collect() {
      this.reset()
      this.inc({ kind: "public" }, tallies.storedPublic)
      this.inc({ kind: "direct" }, tallies.storedDirect)
    }
  })
  const tallied = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset()
        this.inc(read())
      }
    })
  tallied("parley_message_deliveries_total", "MESSAGE frames queued to recipients' connections by the live fan-out (one per recipient connection).", () => tallies.deliveries)
  tallied("parley_messages_replayed_total", "MESSAGE frames replayed after CONNECT.", () => tallies.replayed)
}

/** The other counters and the histograms, bumped where things happen. */
const eventInstruments = (registry: Registry) => {
  const registers = [registry]
  const closed = new Counter({ name: "parley_connections_closed_total", help: "Connections closed, by reason (a BYE reason, disconnect, or peer_closed).", labelNames: ["reason"], registers })
  const errors = new Counter({ name: "parley_errors_sent_total", help: "ERROR frames sent to clients, by code.", labelNames: ["code"], registers })
  return {
    accepted: new Counter({ name: "parley_connections_accepted_total", help: "TCP connections accepted, including those refused at once with BYE too_many_connections.", registers }),
    closedBy: children(closed, closeReasons),
    errorsBy: children(errors, ErrorCode.literals),
    batchSize: new Histogram({
      name: "parley_group_commit_batch_size",
      help: "Writes committed per group commit batch (messages and other writes).",
      buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000],
      registers
    }),
    batchSeconds: new Histogram({
      name: "parley_group_commit_duration_seconds",
      help: "Time to commit one group commit batch, from its start to its results being delivered.",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers
    })
  }
}

const make = () => {
  const registry = new Registry()
  const sources: Sources = {
    connectionsOpen: zero,
    connectionsAuthenticated: zero,
    usersOnline: zero,
    hashesWaiting: zero,
    hashesRunning: zero,
    storageUp: zero
  }
  const tallies: Tallies = { storedPublic: 0, storedDirect: 0, deliveries: 0, replayed: 0 }
  scrapeTimeGauges(registry, sources)
  talliedCounters(registry, tallies)
  const { accepted, batchSeconds, batchSize, closedBy, errorsBy } = eventInstruments(registry)
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
      tallies.storedPublic += publicCount
      tallies.storedDirect += directCount
    },
    delivered: (frames: number): void => {
      tallies.deliveries += frames
    },
    replayed: (frames: number): void => {
      tallies.replayed += frames
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
