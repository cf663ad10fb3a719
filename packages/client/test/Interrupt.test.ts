/**
 * Ctrl-C on the client programs started as the README starts them
 * (`npx -y pnpm@12.4.2 start:client ...`, in a process group of their own,
 * which the terminal signals as a whole): `send` says how many messages were
 * acknowledged and exits 1 unless all were, `listen` ends cleanly, and the
 * interactive chat gives the terminal back clean.
 */
import { assert, describe, it } from "@effect/vitest"
import type { Message } from "@parley/protocol"
import { repoRoot, spawnServer } from "@parley/testkit"
import { openTerminal } from "@parley/testkit/tmux"
import { Deferred, Effect, Schedule, type Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as Net from "node:net"
import type { ChatEvent } from "../src/ChatClient.ts"
import { clientOf, waitFor } from "./Support.ts"

const every50ms = Schedule.spaced("50 millis")

interface Group {
  readonly pgid: number
  readonly stdin: NodeJS.WritableStream
  readonly stdout: () => string
  readonly stderr: () => string
  /** The group's leader (npx) has exited and every line it printed was read. */
  readonly closed: Effect.Effect<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
  /** Waits until standard error or output shows `pattern`. */
  readonly shows: (pattern: RegExp) => Effect.Effect<void, Error>
}

/** `npx -y pnpm@12.4.2 start:client <args>` as its own process group, SIGKILLed with the scope if still there. */
const startClient = (
  args: ReadonlyArray<string>,
  env: Record<string, string>
): Effect.Effect<Group, never, Scope.Scope> =>
  Effect.gen(function*() {
    const closed = yield* Deferred.make<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>()
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        ChildProcess.spawn("npx", ["-y", "pnpm@12.4.2", "start:client", ...args], {
          cwd: repoRoot,
          detached: true,
          env: { ...process.env, ...env },
          stdio: ["pipe", "pipe", "pipe"]
        })
      ),
      (child) =>
        Effect.sync(() => {
          try {
            process.kill(-child.pid!, "SIGKILL")
          } catch {
            // the group is gone
          }
        })
    )
    let out = ""
    let err = ""
    child.stdout!.on("data", (d: Buffer) => (out += d.toString("utf8")))
    child.stderr!.on("data", (d: Buffer) => (err += d.toString("utf8")))
    child.on("close", (code, signal) => Deferred.unsafeDone(closed, Effect.succeed({ code, signal })))
    const shows = (pattern: RegExp) =>
      Effect.suspend(() =>
        pattern.test(out + err) ? Effect.void : Effect.fail(new Error(`never showed ${pattern}:\n${out}${err}`))
      ).pipe(
        Effect.retry({ times: 600, schedule: every50ms })
      )
    return {
      pgid: child.pid!,
      stdin: child.stdin!,
      stdout: () => out,
      stderr: () => err,
      closed: Deferred.await(closed),
      shows
    }
  })

const isText = (text: string) => (e: ChatEvent): e is Message => e.type === "MESSAGE" && e.text === text

/** A port nothing listens on (taken, then released). */
const closedPort = Effect.async<number>((resume) => {
  const probe = Net.createServer()
  probe.listen(0, "127.0.0.1", () => {
    const { port } = probe.address() as Net.AddressInfo
    probe.close(() => resume(Effect.succeed(port)))
  })
})

describe.concurrent("Ctrl-C on the client programs", () => {
  it.scopedLive(
    "send, with the server unreachable: says nothing was acknowledged, exits 1",
    () =>
      Effect.gen(function*() {
        const port = yield* closedPort
        const send = yield* startClient(["send", "--user", "alice", "--port", String(port), "are you there"], {
          PARLEY_PASSWORD: "password-of-alice"
        })
        yield* send.shows(/retrying in/)
        process.kill(-send.pgid, "SIGINT")
        const exit = yield* send.closed
        assert.include(send.stderr(), "parley: interrupted: 0 of 1 message(s) acknowledged, 1 not")
        // pnpm reports the program's status 1; npx then ends by the signal it got itself
        assert.match(send.stderr(), /ELIFECYCLE.*exit code 1/)
        assert.strictEqual(exit.signal, "SIGINT")
      }),
    { timeout: 60_000 }
  )

  it.scopedLive("send, with every line acknowledged before Ctrl-C: says so, exits 0", () =>
    Effect.gen(function*() {
      const server = yield* spawnServer()
      const bob = yield* clientOf(server, "bob")
      const events = yield* bob.subscribe
      yield* bob.connect
      const alice = yield* clientOf(server, "alice")
      yield* alice.connect
      yield* alice.disconnect
      const send = yield* startClient(["send", "--user", "alice", "--port", String(server.port)], {
        PARLEY_PASSWORD: "password-of-alice"
      })
      // standard input stays open: only Ctrl-C ends it
      send.stdin.write("one\ntwo\nthree\n")
      for (const text of ["one", "two", "three"]) yield* waitFor(events, isText(text), "30 seconds")
      // bob has all three, so all three were committed; alice's ACKs left with them but may still be
      // on their way when the signal lands: send waits a moment for the ACKs of what the server has
      process.kill(-send.pgid, "SIGINT")
      yield* send.closed
      assert.include(send.stderr(), "parley: interrupted: all 3 message(s) were acknowledged", send.stderr())
      assert.notInclude(send.stderr(), "ELIFECYCLE")
    }), { timeout: 60_000 })

  it.scopedLive("listen: ends cleanly, and the server records the session's end", () =>
    Effect.gen(function*() {
      const server = yield* spawnServer()
      const bob = yield* clientOf(server, "bob")
      const events = yield* bob.subscribe
      yield* bob.connect
      const carol = yield* clientOf(server, "carol")
      yield* carol.connect
      yield* carol.disconnect
      yield* waitFor(
        events,
        (e): e is ChatEvent => e.type === "PRESENCE" && e.user === "carol" && e.status === "offline"
      )
      const listen = yield* startClient(["listen", "--json", "--user", "carol", "--port", String(server.port)], {
        PARLEY_PASSWORD: "password-of-carol"
      })
      yield* waitFor(
        events,
        (e): e is ChatEvent => e.type === "PRESENCE" && e.user === "carol" && e.status === "online",
        "30 seconds"
      )
      yield* bob.send("for the listener")
      yield* listen.shows(/"text":"for the listener"/)
      process.kill(-listen.pgid, "SIGINT")
      yield* listen.closed
      yield* waitFor(
        events,
        (e): e is ChatEvent => e.type === "PRESENCE" && e.user === "carol" && e.status === "offline"
      )
      assert.notInclude(listen.stderr(), "ELIFECYCLE")
      assert.notMatch(listen.stderr(), /Error|at .*\.ts:\d+/)
    }), { timeout: 60_000 })

  it.scopedLive(
    "the interactive chat: Ctrl-C leaves, the terminal is clean and echoes again",
    () =>
      Effect.gen(function*() {
        const server = yield* spawnServer()
        const term = yield* openTerminal(
          `PARLEY_PASSWORD=dave-password NO_COLOR=1 npx -y pnpm@12.4.2 start:client --port ${server.port} --user dave --register`,
          { cwd: repoRoot }
        )
        yield* term.waitFor("connected", (rows) => rows.some((r) => r.trim().startsWith("connected · dave")))
        yield* term.type("half typed")
        yield* term.press("C-c")
        yield* term.waitFor("the program to exit 0", (rows) => rows.includes("[exited 0]"))
        const rows = yield* term.screen()
        assert.isFalse(rows.some((r) => r.includes("ELIFECYCLE")), rows.join("\n"))
        // the shell's line discipline is back: what is typed now is echoed by the terminal
        yield* term.type("echo-check")
        yield* term.waitFor("typed text echoed", (rows) => rows.some((r) => r.includes("echo-check")))
      }),
    { timeout: 60_000 }
  )
})
