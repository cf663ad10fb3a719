import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { startServer } from "./ServerProcess.ts"
import { clientOf, illegalEdges, recordStates, waitState } from "./Support.ts"

describe("ChatClient heartbeat", () => {
  it.scopedLive(
    "a server that stops answering (SIGSTOP: TCP stays up) is noticed by a missing PONG",
    () =>
      Effect.gen(function*() {
        const server = yield* startServer()
        const alice = yield* clientOf(server, "alice", {
          heartbeatInterval: "300 millis",
          heartbeatTimeout: "300 millis",
          helloTimeout: "1 second"
        })
        const states = yield* recordStates(alice)
        yield* alice.connect
        // stay quiet for a while: PINGs keep a healthy link Connected
        yield* Effect.sleep("1500 millis")
        assert.strictEqual((yield* alice.state.get)._tag, "Connected")

        yield* server.signal("SIGSTOP")
        yield* Effect.addFinalizer(() => server.signal("SIGCONT"))
        const started = Date.now()
        const lost = yield* waitState(alice, "Reconnecting", "5 seconds")
        assert.match(lost.error, /PING/)
        // seconds, not the minutes TCP itself would take
        assert.isBelow(Date.now() - started, 4000)

        yield* server.signal("SIGCONT")
        const back = yield* waitState(alice, "Connected", "20 seconds")
        assert.strictEqual(back.via, "token")
        assert.deepStrictEqual(illegalEdges(states), [])
      }),
    { timeout: 60_000 }
  )
})
