import { assert, describe, it } from "@effect/vitest"
import { spawnServer } from "@parley/testkit"
import { Effect, Queue, type Scope } from "effect"
import * as Net from "node:net"
import { clientOf, illegalEdges, recordStates, waitState } from "./Support.ts"

/**
 * A byte-for-byte relay to `port` on 127.0.0.1 that reports each PONG line the server sends
 * through it, so a test can wait for heartbeats to have happened instead of sleeping.
 */
const pongWatchingRelay = (port: number): Effect.Effect<
  { readonly port: number; readonly pongs: Queue.Dequeue<void> },
  never,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const pongs = yield* Queue.unbounded<void>()
    const sockets = new Set<Net.Socket>()
    const relay = Net.createServer((client) => {
      const upstream = Net.connect(port, "127.0.0.1")
      sockets.add(client).add(upstream)
      let pending = ""
      upstream.on("data", (chunk: Buffer) => {
        pending += chunk.toString("utf8")
        const lines = pending.split("\n")
        pending = lines.pop()!
        for (const line of lines) if (/"type"\s*:\s*"PONG"/.test(line)) Queue.unsafeOffer(pongs, undefined)
      })
      client.pipe(upstream)
      upstream.pipe(client)
      const close = () => {
        client.destroy()
        upstream.destroy()
      }
      client.on("error", close).on("close", close)
      upstream.on("error", close).on("close", close)
    })
    const relayPort = yield* Effect.acquireRelease(
      Effect.async<number>((resume) => {
        relay.listen(0, "127.0.0.1", () => resume(Effect.succeed((relay.address() as Net.AddressInfo).port)))
      }),
      () =>
        Effect.sync(() => {
          for (const socket of sockets) socket.destroy()
          relay.close()
        })
    )
    return { port: relayPort, pongs }
  })

describe("ChatClient heartbeat", () => {
  it.scopedLive(
    "a server that stops answering (SIGSTOP: TCP stays up) is noticed by a missing PONG",
    () =>
      Effect.gen(function*() {
        const server = yield* spawnServer()
        const relay = yield* pongWatchingRelay(server.port)
        const alice = yield* clientOf({ host: "127.0.0.1", port: relay.port }, "alice", {
          heartbeatInterval: "300 millis",
          heartbeatTimeout: "300 millis",
          helloTimeout: "1 second"
        })
        const states = yield* recordStates(alice)
        yield* alice.connect
        // stay quiet for a while: PINGs, answered, keep a healthy link Connected
        yield* Queue.takeN(relay.pongs, 3).pipe(Effect.timeoutFail({
          duration: "10 seconds",
          onTimeout: () => new Error("no three PING/PONG exchanges on a quiet link")
        }))
        assert.strictEqual((yield* alice.state.get)._tag, "Connected")
        assert.deepStrictEqual(states.filter((s) => s === "Reconnecting"), [])

        yield* server.signal("SIGSTOP")
        yield* Effect.addFinalizer(() => server.signal("SIGCONT"))
        // noticed by the missing PONG within the wait's bound, not after the minutes TCP itself would take
        const lost = yield* waitState(alice, "Reconnecting", "5 seconds")
        assert.match(lost.error, /PING/)

        yield* server.signal("SIGCONT")
        const back = yield* waitState(alice, "Connected", "20 seconds")
        assert.strictEqual(back.via, "token")
        assert.deepStrictEqual(illegalEdges(states), [])
      }),
    { timeout: 60_000 }
  )
})
