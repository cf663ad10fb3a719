/**
 * The cluster's bus: a doorbell between the nodes of one chat service. A
 * node publishes what it committed (message ids and contents, presence
 * changes, room and moderation events, revocations) after the commit; the
 * other nodes deliver to their own connections. The database is the log:
 * a notice the bus drops is found missing by the message feed's gap repair
 * (`Feed.ts`), so the bus needs no delivery guarantee of its own, and a
 * publish while it is down is dropped, never queued.
 *
 * One tag, two implementations: an in-memory bus on an Effect `PubSub`, for a
 * node started without `--bus` (it is the whole service, so nobody else
 * listens) and for nodes built in one process; and Redis pub/sub
 * (`RedisBus.ts`) for nodes in separate processes.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Context, Effect, Layer, PubSub, Queue, type Scope } from "effect"

/** What a node hears from the bus. */
export interface BusListener {
  /** A notice another node published (its own are filtered out by the caller). */
  readonly notice: (text: string) => void
  /** The bus became reachable (true) or unreachable again (false). */
  readonly status: (up: boolean) => void
  /**
   * Notices that begin with this text are the node's own, come back, and are
   * dropped unread (as bytes, before they are decoded, where the bus can).
   */
  readonly ownPrefix?: string
}

export interface BusShape {
  /** `memory` or the bus URL with any password removed, for logs. */
  readonly describe: string
  /** Publishes a notice to every node listening on the same channel; dropped while the bus is down. */
  readonly publish: (text: string) => void
  /** Starts delivering notices and status changes to `listener` for as long as the scope lives. */
  readonly listen: (listener: BusListener) => Effect.Effect<void, never, Scope.Scope>
}

/** True for a URL `--bus` accepts. */
export const isRedisUrl = (url: string): boolean => /^rediss?:\/\//i.test(url)

/**
 * The channel of one chat service: the nodes on the same database (and the
 * same bus) are one service, so the name is the database's own cluster id
 * (a random id its migration stored), never its address, which differs
 * from node to node behind a pooler or another host name.
 */
export const channelFor = (clusterId: string): string => `parley:${clusterId}`

/** Reads the database's cluster id (PostgreSQL, `cluster_identity`). */
export const readClusterId = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const rows = yield* sql<{ id: string }>`SELECT id FROM cluster_identity`
  const id = rows[0]?.id
  if (id === undefined) return yield* Effect.dieMessage("the database has no cluster id (cluster_identity is empty)")
  return id
})

export class Bus extends Context.Tag("@parley/server/Bus")<Bus, BusShape>() {}

// one PubSub per channel name, shared by every in-memory bus of this process
const channels = new Map<string, PubSub.PubSub<string>>()

const channelOf = (name: string): PubSub.PubSub<string> => {
  let hub = channels.get(name)
  if (hub === undefined) channels.set(name, hub = Effect.runSync(PubSub.unbounded<string>()))
  return hub
}

/** The in-memory bus on `channel`: every node of this process on the same channel hears every notice. */
export const memoryBus = (channel: string): BusShape => {
  const hub = channelOf(channel)
  return {
    describe: "memory",
    publish: (text) => void Effect.runSync(PubSub.publish(hub, text)),
    listen: (listener) =>
      Effect.gen(function*() {
        const queue = yield* PubSub.subscribe(hub)
        listener.status(true)
        const own = listener.ownPrefix
        const hear = own === undefined
          ? listener.notice
          : (text: string) => text.startsWith(own) ? undefined : listener.notice(text)
        yield* Effect.forkScoped(Effect.forever(Effect.map(Queue.take(queue), hear)))
      })
  }
}

/** A layer of the in-memory bus on `channel`. */
export const MemoryBus = (channel: string) => Layer.sync(Bus, () => memoryBus(channel))
