import { assert, describe, it } from "@effect/vitest"
import { Clock, Effect, Option, Redacted, Stream, TestClock } from "effect"
import * as Net from "node:net"
import { ChatClient } from "../src/ChatClient.ts"
import type { ConnectionState } from "../src/ConnectionState.ts"
import * as TcpTransport from "../src/TcpTransport.ts"

// a port nobody listens on: bind to 0, note it, close
const freePort = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as Net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

const reconnecting = (client: ChatClient.Service, attempt: number) =>
  client.state.changes.pipe(
    Stream.filter((s): s is Extract<ConnectionState, { _tag: "Reconnecting" }> =>
      s._tag === "Reconnecting" && s.attempt === attempt
    ),
    Stream.runHead,
    Effect.map(Option.getOrThrow)
  )

describe("ChatClient reconnect", () => {
  it.scoped("dials again on the backoff schedule while nothing listens, and stops on disconnect", () =>
    Effect.gen(function*() {
      const port = yield* freePort
      const client = yield* ChatClient.make({
        transport: TcpTransport.make({ host: "127.0.0.1", port }),
        username: "alice",
        password: Redacted.make("correct horse")
      })
      yield* Effect.fork(client.connect)
      let previous = 0
      for (let attempt = 1; attempt <= 5; attempt++) {
        const state = yield* reconnecting(client, attempt)
        const delay = state.retryAt - (yield* Clock.currentTimeMillis)
        const nominal = 250 * 2 ** (attempt - 1)
        assert.isAtLeast(delay, nominal * 0.8 - 1, `attempt ${attempt}`)
        assert.isAtMost(delay, nominal * 1.2 + 1, `attempt ${attempt}`)
        assert.match(state.error, /refused/)
        assert.isAbove(delay, previous * 1.2)
        previous = delay
        // nothing happens before the delay is over
        yield* TestClock.adjust(delay - 1)
        assert.strictEqual((yield* client.state.get)._tag, "Reconnecting")
        yield* TestClock.adjust(1)
      }
      yield* reconnecting(client, 6)
      yield* client.disconnect
      const final = yield* client.state.get
      assert.strictEqual(final._tag, "Disconnected")
    }))
})
