/**
 * Out of file descriptors: the real server process, its descriptor limit
 * lowered with prlimit to a few above what it holds, flooded with
 * connections. Failed accepts must neither crash it nor spin: connections it
 * already holds are served throughout, the failure is logged (not once per
 * attempt), and logins work again as soon as descriptors are freed.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import { spawnServer } from "./support/ServerProcess.ts"
import { logIn, signUp } from "./support/Wire.ts"

const openFds = (pid: number) => Fs.readdirSync(`/proc/${pid}/fd`).length

interface Dialed {
  readonly socket: Net.Socket
  /** "greeted": the server sent HELLO; "closed": it closed the socket without one. */
  outcome: "pending" | "greeted" | "closed"
}

/** Opens a TCP connection; resolves once connected (the kernel accepts it even when the server cannot). */
const dial = (port: number) =>
  Effect.async<Dialed>((resume) => {
    const socket = Net.connect(port, "127.0.0.1", () => resume(Effect.succeed(dialed)))
    const dialed: Dialed = { socket, outcome: "pending" }
    socket.on("data", (chunk) => {
      if (dialed.outcome === "pending" && chunk.toString().includes("HELLO")) dialed.outcome = "greeted"
    })
    socket.on("close", () => {
      if (dialed.outcome === "pending") dialed.outcome = "closed"
    })
    socket.on("error", () => {})
  })

const FLOOD = 60
const HEADROOM = 8

describe("out of file descriptors", () => {
  it.scopedLive(
    "accept failures neither crash nor spin; held connections go on; logins resume once descriptors free up",
    () =>
      Effect.gen(function*() {
        const server = yield* spawnServer({ flags: ["--idle-timeout", "0"] })
        const alice = yield* signUp(server.port, "alice")
        const limit = openFds(server.pid) + HEADROOM
        ChildProcess.execFileSync("prlimit", ["--pid", String(server.pid), `--nofile=${limit}:${limit}`])

        const flood = yield* Effect.acquireRelease(
          Effect.forEach(Array.from({ length: FLOOD }), () => dial(server.port), { concurrency: 10 }),
          (dialed) => Effect.sync(() => dialed.forEach((d) => d.socket.destroy()))
        )
        // every flood connection is either served or turned away: none is left hanging
        yield* Effect.iterate(0, {
          while: () => flood.some((d) => d.outcome === "pending"),
          body: (n) =>
            n < 400
              ? alice.wire.ask({ command: "PING" }, "PONG").pipe(Effect.as(n + 1))
              : Effect.die(
                new Error(
                  `${flood.filter((d) => d.outcome === "pending").length} flood connections neither greeted nor closed`
                )
              )
        })
        const greeted = flood.filter((d) => d.outcome === "greeted").length
        assert.isAbove(greeted, 0)
        assert.isBelow(greeted, FLOOD, "the limit was never reached")
        // the connection it already held is served throughout
        yield* alice.wire.ask({ command: "PING", id: "still-here" }, "PONG")
        const warnings = server.output().split("\n").filter((line) => line.includes("accepting a connection failed"))
        assert.isAtMost(warnings.length, 2, "an accept failure is logged at most every 10 s, not once per attempt")

        // descriptors freed: a new user logs in
        for (const d of flood) d.socket.destroy()
        yield* Effect.iterate(0, {
          while: () => openFds(server.pid) > limit - HEADROOM / 2,
          body: (n) =>
            n < 400
              ? alice.wire.ask({ command: "PING" }, "PONG").pipe(Effect.as(n + 1))
              : Effect.die(new Error("descriptors were not freed"))
        })
        const bob = yield* signUp(server.port, "bob")
        assert.strictEqual(bob.connected.user, "bob")
        const again = yield* logIn(server.port, "alice")
        assert.strictEqual(again.connected.user, "alice")
        assert.notMatch(server.output(), /RangeError|uncaught|fatal/i)
      }),
    { timeout: 120_000 }
  )
})
