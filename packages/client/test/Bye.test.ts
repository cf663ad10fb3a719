/**
 * The client tells a person why the server closed: a BYE reason is said in
 * words (and the connection retries by itself), here for the abuse limits of
 * protocol v1.1 against the real server process.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawnServer } from "@parley/testkit"
import { Effect } from "effect"
import * as Net from "node:net"
import { clientOf, waitState } from "./Support.ts"

describe("BYE reasons, as the client says them", () => {
  it.scopedLive(
    "too_many_connections: the client reports it in words and keeps retrying",
    () =>
      Effect.gen(function*() {
        const server = yield* spawnServer({ flags: ["--max-conns-per-ip", "1"] })
        // the address's one connection, held open
        const holder = yield* Effect.acquireRelease(
          Effect.async<Net.Socket>((resume) => {
            const s = Net.connect(server.port, "127.0.0.1", () => resume(Effect.succeed(s)))
          }),
          (s) => Effect.sync(() => s.destroy())
        )
        assert.isFalse(holder.destroyed)
        const alice = yield* clientOf(server, "alice")
        yield* Effect.fork(alice.connect)
        const state = yield* waitState(alice, "Reconnecting")
        assert.include(state.error, "too many connections from this address")
      }),
    { timeout: 60_000 }
  )
})
