/**
 * The bus on its own, both implementations: a listener hears every notice
 * published on its channel, in order, except those that begin with its
 * `ownPrefix` (a node's own message batches, which Redis sends back to it);
 * a notice on another channel never reaches it. Redis is the machine's.
 */
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect } from "effect"
import { Redis } from "ioredis"
import { randomUUID } from "node:crypto"
import { Bus, type BusShape, MemoryBus } from "../src/Bus.ts"
import { RedisBus } from "../src/RedisBus.ts"
import { redisAvailable, testRedis } from "./support/Redis.ts"

const OWN = `{"n":"me","m":`

/**
 * Publishes an own batch, a foreign notice, an own op (not a batch: it is
 * heard), another own batch and a last marker, and returns what the
 * listener heard up to the marker.
 */
const hearsAllButOwn = (bus: BusShape, publish: (text: string) => Effect.Effect<void>) =>
  Effect.gen(function*() {
    const heard: Array<string> = []
    const up = yield* Deferred.make<void>()
    const done = yield* Deferred.make<void>()
    yield* bus.listen({
      ownPrefix: OWN,
      status: (ok) => void (ok && Deferred.unsafeDone(up, Effect.void)),
      notice: (text) => {
        heard.push(text)
        if (text === `{"n":"other","last":true}`) Deferred.unsafeDone(done, Effect.void)
      }
    })
    yield* Deferred.await(up)
    const sent = [
      `${OWN}[[1]]}`,
      `{"n":"other","m":[[2]]}`,
      `{"n":"me","o":{"k":"x"},"echo":1}`,
      `${OWN}[[3]]}`,
      `{"n":"other","last":true}`
    ]
    for (const text of sent) yield* publish(text)
    yield* Deferred.await(done).pipe(Effect.timeout("5 seconds"))
    assert.deepStrictEqual(heard, [sent[1], sent[2], sent[4]])
  })

describe("bus", () => {
  it.scoped("in memory: a listener hears the channel's notices in order, its own batches excepted", () =>
    Effect.gen(function*() {
      const channel = `test:${randomUUID()}`
      const bus = yield* Effect.provide(Bus, MemoryBus(channel))
      const elsewhere = yield* Effect.provide(Bus, MemoryBus(`${channel}:other`))
      yield* hearsAllButOwn(bus, (text) =>
        Effect.sync(() => {
          elsewhere.publish(`{"n":"other","m":[[9]]}`) // another channel's notices do not arrive
          bus.publish(text)
        }))
    }))

  // published through a client of the test's own, each publish awaited (the bus's publisher
  // drops a notice while it is still connecting, by design)
  it.scopedLive.skipIf(!redisAvailable)(
    "on Redis: a listener hears the channel's notices in order, its own batches dropped before decoding",
    () =>
      Effect.gen(function*() {
        const channel = `test:${randomUUID()}`
        const bus = yield* Effect.provide(Bus, RedisBus(testRedis, channel))
        const client = yield* Effect.acquireRelease(
          Effect.sync(() => new Redis(testRedis)),
          (c) => Effect.sync(() => c.disconnect())
        )
        yield* hearsAllButOwn(bus, (text) =>
          Effect.promise(async () => {
            await client.publish(`${channel}:other`, `{"n":"other","m":[[9]]}`)
            await client.publish(channel, text)
          }))
      })
  )
})
