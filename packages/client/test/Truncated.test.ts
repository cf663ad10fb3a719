import { assert, describe, it } from "@effect/vitest"
import type { Message } from "@parley/protocol"
import { spawnServer } from "@parley/testkit"
import { Effect, Fiber, Queue } from "effect"
import { clientOf, eventsBefore } from "./Support.ts"

// the server replays at most --replay-cap messages after CONNECT, then says TRUNCATED
const CAP = 50
const MISSED = 180

describe("ChatClient resume", () => {
  it.scopedLive(
    `after missing ${MISSED} public and direct messages (over the replay cap of ${CAP}) it shows each once, in order`,
    () =>
      Effect.gen(function*() {
        const server = yield* spawnServer({ flags: ["--replay-cap", String(CAP)] })
        const alice = yield* clientOf(server, "alice")
        const bob = yield* clientOf(server, "bob")
        yield* alice.connect
        yield* bob.connect
        const bobEvents = yield* bob.subscribe
        // bob has a DM conversation with alice, so he knows whose DMs to page
        const before = yield* alice.send("before the gap", "bob")
        const seenBefore = yield* Queue.take(bobEvents)
        assert.strictEqual(seenBefore.type === "MESSAGE" && seenBefore.message_id, before.message_id)

        yield* bob.disconnect
        const expected: Array<string> = []
        const waits: Array<Effect.Effect<unknown, unknown>> = []
        for (let i = 1; i <= MISSED; i++) {
          const dm = i % 3 === 0
          const text = `${dm ? "dm" : "public"} ${i}`
          expected.push(text)
          waits.push(yield* alice.enqueue(text, dm ? "bob" : undefined))
        }
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
        const extra = (yield* eventsBefore(alice, bobEvents)).filter((e) => e.type === "MESSAGE")
        assert.deepStrictEqual(extra, [])
        assert.deepStrictEqual(shown.map((m) => m.text), expected)
        const ids = shown.map((m) => m.message_id)
        assert.deepStrictEqual(ids, [...ids].sort((a, b) => a - b))
      }),
    { timeout: 90_000 }
  )
})
