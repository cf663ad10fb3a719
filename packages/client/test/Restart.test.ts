import { assert, describe, it } from "@effect/vitest"
import type { Message } from "@parley/protocol"
import { spawnServer } from "@parley/testkit"
import { Effect, Fiber, Queue } from "effect"
import type { ChatClient } from "../src/ChatClient.ts"
import { clientOf, eventsBefore, illegalEdges, recordStates, waitState } from "./Support.ts"

const TOTAL = 200

// every public message, oldest first, paged with HISTORY after=
const wholeTimeline = (client: ChatClient.Service) =>
  Effect.gen(function*() {
    const out: Array<Message> = []
    let after = 0
    while (true) {
      const page = yield* client.history({ after, limit: 100 })
      out.push(...page.messages)
      const last = page.messages.at(-1)
      if (!page.has_more || last === undefined) return out
      after = last.message_id
    }
  })

describe("ChatClient through a server crash", () => {
  it.scopedLive(
    `SIGKILL and restart while one client sends ${TOTAL} messages: each stored once, shown once`,
    () =>
      Effect.gen(function*() {
        const server = yield* spawnServer()
        const alice = yield* clientOf(server, "alice")
        const bob = yield* clientOf(server, "bob")
        const aliceStates = yield* recordStates(alice)
        const bobStates = yield* recordStates(bob)
        const bobEvents = yield* bob.subscribe
        yield* alice.connect
        yield* bob.connect

        // bob shows what arrives; count by id and by text
        const shown: Array<Message> = []
        const watcher = yield* Effect.gen(function*() {
          while (shown.length < TOTAL) {
            const e = yield* Queue.take(bobEvents)
            if (e.type === "MESSAGE" && e.from === "alice") shown.push(e)
          }
        }).pipe(Effect.fork)

        let acked = 0
        const sender = yield* Effect.gen(function*() {
          const waits: Array<Fiber.Fiber<unknown, unknown>> = []
          for (let i = 1; i <= TOTAL; i++) {
            const wait = yield* alice.enqueue(`message ${i}`)
            waits.push(yield* Effect.fork(Effect.tap(wait, () => Effect.sync(() => acked++))))
            if (i % 5 === 0) yield* Effect.sleep("15 millis")
          }
          return yield* Fiber.joinAll(waits)
        }).pipe(Effect.fork)

        // crash the server part-way through, and bring it back on the same port and database
        while (acked < 40) yield* Effect.sleep("5 millis")
        yield* server.kill
        const killedAt = acked
        yield* waitState(alice, "Reconnecting")
        yield* Effect.sleep("300 millis")
        yield* server.restart

        yield* Fiber.join(sender).pipe(Effect.timeout("60 seconds"))
        assert.strictEqual(acked, TOTAL)
        assert.isBelow(killedAt, TOTAL, "the crash came too late to test anything")
        assert.strictEqual(yield* alice.pending, 0)
        yield* Fiber.join(watcher).pipe(Effect.timeout("30 seconds"))
        const carol = yield* clientOf(server, "carol")
        yield* carol.connect
        const more = yield* eventsBefore(carol, bobEvents)

        // stored exactly once, in order
        const stored = (yield* wholeTimeline(alice)).filter((m) => m.from === "alice")
        assert.deepStrictEqual(stored.map((m) => m.text), Array.from({ length: TOTAL }, (_, i) => `message ${i + 1}`))
        // shown exactly once by bob, in message_id order
        const extra = more.filter((e) => e.type === "MESSAGE")
        assert.deepStrictEqual(extra, [])
        assert.deepStrictEqual(shown.map((m) => m.message_id), stored.map((m) => m.message_id))

        // both went through Reconnecting and back by the diagram's edges, logging in again with the token
        const aliceNow = yield* alice.state.get
        assert.strictEqual(aliceNow._tag, "Connected")
        if (aliceNow._tag === "Connected") assert.strictEqual(aliceNow.via, "token")
        assert.include(aliceStates, "Reconnecting")
        assert.include(bobStates, "Reconnecting")
        assert.deepStrictEqual(illegalEdges(aliceStates), [])
        assert.deepStrictEqual(illegalEdges(bobStates), [])
      }),
    { timeout: 120_000 }
  )
})
