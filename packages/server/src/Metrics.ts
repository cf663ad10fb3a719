/**
 * What the server counts for its metrics, as plain numbers: every `parley_*`
 * counter's value and every scrape-time gauge's source, per server instance
 * (two servers in one process count apart). prom-client is not loaded here:
 * `MetricsRegistry` turns these into a registry only in a server started with
 * `--metrics-port`, so a server without it pays neither for loading the
 * library (about 50-250 ms at start) nor for its bookkeeping.
 *
 * Counting is a plain addition, done once per batch or broadcast rather than
 * once per message or recipient on the MSG hot path; prom-client's own `inc`
 * hashes its labels on every call, even through a bound child (about 250 ns
 * for two labelled `inc`s against 7 ns for the additions). Gauges of state the
 * server holds anyway (open connections, users online, the hash queue,
 * storage) are read when scraped from sources their owners register.
 */
import { ByeReason, ErrorCode } from "@parley/protocol"
import { Effect } from "effect"

/** Why a connection ended, as `parley_connections_closed_total` labels it. */
export type CloseReason = ByeReason | "disconnect" | "peer_closed" | "failed"

export const closeReasons: ReadonlyArray<CloseReason> = [...ByeReason.literals, "disconnect", "peer_closed", "failed"]

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
  /** 1 while the cluster bus is reachable; always 1 without `--bus` (there is no bus to lose). */
  busUp: Reader
}

/** The counters' values since start. */
export interface Counts {
  accepted: number
  readonly closed: Record<CloseReason, number>
  readonly errors: Record<ErrorCode, number>
  storedPublic: number
  storedDirect: number
  deliveries: number
  replayed: number
  /** Reads of the database for messages the bus had not brought in time (cluster nodes only). */
  gapRepairs: number
}

/** Receives each group commit batch's size and duration, once a registry is listening. */
export type BatchObserver = (writes: number, seconds: number) => void

const zero: Reader = () => 0

const zeros = <K extends string>(keys: ReadonlyArray<K>): Record<K, number> => {
  const record = {} as Record<K, number>
  for (const k of keys) record[k] = 0
  return record
}

const make = () => {
  const sources: Sources = {
    connectionsOpen: zero,
    connectionsAuthenticated: zero,
    usersOnline: zero,
    hashesWaiting: zero,
    hashesRunning: zero,
    storageUp: zero,
    busUp: () => 1
  }
  const counts: Counts = {
    accepted: 0,
    closed: zeros(closeReasons),
    errors: zeros(ErrorCode.literals),
    storedPublic: 0,
    storedDirect: 0,
    deliveries: 0,
    replayed: 0,
    gapRepairs: 0
  }
  let onBatch: BatchObserver | undefined
  return {
    sources: sources as Readonly<Sources>,
    counts: counts as Readonly<Counts>,
    /** Sets where a scrape-time gauge reads its value. */
    source: <K extends keyof Sources>(name: K, read: Reader): void => {
      sources[name] = read
    },
    /** Sets who receives the batch sizes and durations (the registry's histograms). */
    observeBatches: (observer: BatchObserver): void => {
      onBatch = observer
    },
    /** Whether anyone takes the batch figures: without a registry they are not even timed. */
    batchesObserved: (): boolean => onBatch !== undefined,
    connectionAccepted: (): void => {
      counts.accepted++
    },
    connectionClosed: (reason: CloseReason): void => {
      counts.closed[reason]++
    },
    messagesStored: (publicCount: number, directCount: number): void => {
      counts.storedPublic += publicCount
      counts.storedDirect += directCount
    },
    delivered: (frames: number): void => {
      counts.deliveries += frames
    },
    replayed: (frames: number): void => {
      counts.replayed += frames
    },
    gapRepaired: (): void => {
      counts.gapRepairs++
    },
    errorSent: (code: ErrorCode): void => {
      counts.errors[code]++
    },
    batchCommitted: (writes: number, seconds: number): void => {
      onBatch?.(writes, seconds)
    }
  } as const
}

export class Metrics extends Effect.Service<Metrics>()("@parley/server/Metrics", {
  sync: make
}) {}
