/**
 * The bus on Redis pub/sub (`--bus redis://…`), through `ioredis`: one
 * connection publishes, one subscribes to the service's channel. Redis was
 * chosen over NATS because a deployment that scales out already runs it for
 * something, its pub/sub is exactly the fire-and-forget doorbell the feed
 * needs (no broker-side state to manage), and `ioredis` reconnects and
 * resubscribes by itself. See docs/operations.md ("A cluster").
 *
 * Nothing here waits for Redis: a publish while it is unreachable is dropped
 * at once (no offline queue; the feed's gap repair reads the database), and
 * a node whose bus is down keeps serving its own clients.
 */
import { Effect, Layer } from "effect"
import { Redis } from "ioredis"
import { Bus, type BusListener, type BusShape } from "./Bus.ts"
import { redactUrl } from "./PgDatabase.ts"

// reconnect quickly at first, then every 2 s at most, for ever
const retry = (attempt: number): number => Math.min(100 * attempt, 2000)

const clientOptions = {
  lazyConnect: true,
  connectTimeout: 2000,
  retryStrategy: retry,
  // a notice that cannot go now is dropped: the database, not the bus, is the log
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0
} as const

/** The Redis bus at `url` on `channel`; the connections close with the layer's scope. */
export const RedisBus = (url: string, channel: string) =>
  Layer.scoped(
    Bus,
    Effect.gen(function*() {
      const publisher = new Redis(url, clientOptions)
      const subscriber = new Redis(url, { ...clientOptions, enableOfflineQueue: true, maxRetriesPerRequest: null })
      for (const client of [publisher, subscriber]) client.on("error", () => {}) // status says it once
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          publisher.disconnect()
          subscriber.disconnect()
        })
      )
      // the first connection is tried, not awaited: a node starts (and serves) with its bus down
      publisher.connect().catch(() => {})
      const bus: BusShape = {
        describe: redactUrl(url),
        publish: (text) => {
          if (publisher.status === "ready") publisher.publish(channel, text).catch(() => {})
        },
        listen: (listener) => listen(subscriber, channel, listener)
      }
      return bus
    })
  )

const listen = (subscriber: Redis, channel: string, listener: BusListener) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      let up = false
      // the buffer event: a node's own notices (most of what it hears under load) are
      // dropped before ioredis would decode them to strings
      const own = listener.ownPrefix === undefined ? undefined : Buffer.from(listener.ownPrefix)
      const name = Buffer.from(channel)
      const onMessage = (from: Buffer, data: Buffer) => {
        if (!from.equals(name)) return
        if (own !== undefined && data.length >= own.length && data.compare(own, 0, own.length, 0, own.length) === 0) {
          return
        }
        listener.notice(data.toString())
      }
      const onReady = () => {
        subscriber.subscribe(channel).then(() => {
          if (!up) listener.status(up = true)
        }, () => {})
      }
      const onClose = () => {
        if (up) listener.status(up = false)
      }
      subscriber.on("messageBuffer", onMessage)
      subscriber.on("ready", onReady)
      subscriber.on("close", onClose)
      subscriber.connect().catch(() => {})
      return { onMessage, onReady, onClose }
    }),
    (handlers) =>
      Effect.sync(() => {
        subscriber.off("messageBuffer", handlers.onMessage)
        subscriber.off("ready", handlers.onReady)
        subscriber.off("close", handlers.onClose)
      })
  )
