import { assert, describe, it } from "@effect/vitest"
import type { Message } from "@parley/protocol"
import { Effect, Fiber, Queue } from "effect"
import { startServer } from "./ServerProcess.ts"
import { clientOf } from "./Support.ts"

// the server replays at most 1000 messages after CONNECT, then says TRUNCATED
const MISSED = 1150

describe("ChatClient resume", () => {
  it.scopedLive(`after missing ${MISSED} messages (more than the replay cap) it shows each once, in order`, () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const alice = yield* clientOf(server, "alice")
      const bob = yield* clientOf(server, "bob")
      yield* alice.connect
      yield* bob.connect
      const bobEvents = yield* bob.subscribe
      const before = yield* alice.send("before the gap")
      const seenBefore = yield* Queue.take(bobEvents)
      assert.strictEqual(seenBefore.type === "MESSAGE" && seenBefore.message_id, before.message_id)

      yield* bob.disconnect
      const waits: Array<Effect.Effect<unknown, unknown>> = []
      for (let i = 1; i <= MISSED; i++) waits.push(yield* alice.enqueue(`missed ${i}`))
      yield* Effect.all(waits, { concurrency: "unbounded" })

      const shown: Array<Message> = []
      const watcher = yield* Effect.gen(function*() {
        while (shown.length < MISSED) {
          const e = yield* Queue.take(bobEvents)
          if (e.type === "MESSAGE") shown.push(e)
        }
      }).pipe(Effect.fork)
      yield* bob.connect
      yield* Fiber.join(watcher).pipe(Effect.timeout("30 seconds"))
      yield* Effect.sleep("300 millis")
      const extra = [...yield* Queue.takeAll(bobEvents)].filter((e) => e.type === "MESSAGE")
      assert.deepStrictEqual(extra, [])
      assert.deepStrictEqual(shown.map((m) => m.text), Array.from({ length: MISSED }, (_, i) => `missed ${i + 1}`))
      const ids = shown.map((m) => m.message_id)
      assert.deepStrictEqual(ids, [...ids].sort((a, b) => a - b))
    }), { timeout: 90_000 })
})
