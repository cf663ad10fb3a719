import { assert, describe, it } from "@effect/vitest"
import { repoRoot, spawnServer } from "@parley/testkit"
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as net from "node:net"
import { clientOf } from "./Support.ts"

interface Run {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exit: Effect.Effect<number | null>
}

// `parley <args>` as a child process, killed (by PID) with the scope
const parley = (args: ReadonlyArray<string>, env: Record<string, string>, stdin?: string) =>
  Effect.acquireRelease(
    Effect.sync((): Run => {
      const child = spawn(process.execPath, ["--import", "tsx", "packages/client/src/bin.ts", ...args], {
        cwd: repoRoot,
        env: { ...process.env, ...env },
        stdio: ["pipe", "pipe", "pipe"]
      })
      let out = ""
      let err = ""
      child.stdout!.on("data", (d: Buffer) => (out += d.toString("utf8")))
      child.stderr!.on("data", (d: Buffer) => (err += d.toString("utf8")))
      if (stdin !== undefined) child.stdin!.end(stdin)
      const exit = Effect.async<number | null>((resume) => {
        if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.succeed(child.exitCode))
        child.once("exit", (code) => resume(Effect.succeed(code)))
      })
      return { child, stdout: () => out, stderr: () => err, exit }
    }),
    (run) =>
      Effect.sync(() => run.child.exitCode === null && run.child.signalCode === null && run.child.kill("SIGKILL"))
  )

const jsonLines = (text: string) =>
  text.split("\n").filter((l) => l.trim() !== "").map((l) => JSON.parse(l) as Record<string, unknown>)

const until = (what: string, check: () => boolean, timeout = 20_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeout
    while (!check()) {
      if (Date.now() > deadline) return yield* Effect.fail(new Error(`timed out waiting for ${what}`))
      yield* Effect.sleep("50 millis")
    }
  })

describe("parley send and listen", () => {
  it.scopedLive(
    "send (stdin, 150 lines) survives a server restart; listen --json prints every message once",
    () =>
      Effect.gen(function*() {
        const server = yield* spawnServer()
        const port = String(server.port)
        // accounts exist first
        yield* (yield* clientOf(server, "alice")).connect
        yield* (yield* clientOf(server, "bob")).connect

        const listen = yield* parley(["--port", port, "--user", "bob", "listen", "--json"], {
          PARLEY_PASSWORD: "password-of-bob"
        })
        yield* until("listen to log in", () => listen.stderr().includes("parley: connected as bob"))
        const lines = Array.from({ length: 150 }, (_, i) => `line ${i + 1}`)
        const send = yield* parley(["--port", port, "--user", "alice", "send"], {
          PARLEY_PASSWORD: "password-of-alice"
        })
        const shown = () => jsonLines(listen.stdout()).filter((e) => e.type === "MESSAGE").length
        // the crash lands mid-stream: the first 30 lines are written, and the server killed once
        // listen has shown 20 of them; the other 120 are written while it is down
        for (const line of lines.slice(0, 30)) send.child.stdin!.write(line + "\n")
        yield* until("the first messages", () => shown() >= 20)
        yield* server.kill
        yield* until(
          "both programs to notice",
          () => /retrying in/.test(listen.stderr()) && /retrying in/.test(send.stderr())
        )
        for (const line of lines.slice(30)) send.child.stdin!.write(line + "\n")
        send.child.stdin!.end()
        yield* server.restart
        const code = yield* send.exit
        assert.strictEqual(code, 0, send.stderr())
        yield* until("every message in listen", () => shown() >= 150, 30_000)
        // a barrier: messages reach listen in message_id order, so anything stored or shown twice
        // would come before this one
        const carol = yield* clientOf(server, "carol")
        yield* carol.connect
        yield* carol.send("the end")
        yield* until(
          "the barrier",
          () => jsonLines(listen.stdout()).some((e) => e.type === "MESSAGE" && e.text === "the end")
        )
        const messages = jsonLines(listen.stdout()).filter((e) => e.type === "MESSAGE")
        assert.deepStrictEqual(messages.map((m) => m.text), [...lines, "the end"])
        // protocol JSON as it came over the wire (v1.2: with its room, general for a public one)
        assert.deepStrictEqual(Object.keys(messages[0]!).sort(), [
          "from",
          "message_id",
          "room",
          "text",
          "timestamp",
          "to",
          "type"
        ])
        assert.strictEqual(messages[0]!.from, "alice")
        assert.strictEqual(messages[0]!.room, "general")
        assert.isNull(messages[0]!.to)
        assert.match(listen.stderr(), /retrying in/)
        listen.child.kill("SIGINT")
        assert.strictEqual(yield* listen.exit, 0)
      }),
    { timeout: 120_000 }
  )

  it.scopedLive(
    "send exits 1 with a reason when a message cannot be delivered or the login is refused",
    () =>
      Effect.gen(function*() {
        const server = yield* spawnServer()
        const port = String(server.port)
        yield* (yield* clientOf(server, "alice")).connect
        const env = { PARLEY_PASSWORD: "password-of-alice" }

        const ok = yield* parley([
          "--port",
          port,
          "--user",
          "alice",
          "send",
          "--timeout",
          "30",
          "--to",
          "ALICE",
          "note",
          "to",
          "self"
        ], env)
        assert.strictEqual(yield* ok.exit, 0, ok.stderr())

        const unknown = yield* parley(["--port", port, "--user", "alice", "send", "--to", "nobody", "hello?"], env)
        assert.strictEqual(yield* unknown.exit, 1)
        assert.match(unknown.stderr(), /no user named "nobody"/)

        const wrong = yield* parley(["--port", port, "--user", "alice", "send", "hi"], {
          PARLEY_PASSWORD: "not-the-password"
        })
        assert.strictEqual(yield* wrong.exit, 1)
        assert.match(wrong.stderr(), /wrong username or password/)

        const nopass = yield* parley(["--port", port, "--user", "alice", "send", "hi"], { PARLEY_PASSWORD: "" }, "")
        assert.strictEqual(yield* nopass.exit, 1)
        assert.match(nopass.stderr(), /PARLEY_PASSWORD or pass --password-file/)
      }),
    { timeout: 60_000 }
  )

  it.scopedLive("send --timeout gives up with exit 1 and says so when no server answers", () =>
    Effect.gen(function*() {
      // a port nobody listens on: taken from the kernel, then released
      const port = yield* Effect.async<number>((resume) => {
        const probe = net.createServer().listen(0, "127.0.0.1", () => {
          const { port } = probe.address() as net.AddressInfo
          probe.close(() => resume(Effect.succeed(port)))
        })
      })
      const started = Date.now()
      const run = yield* parley(["--port", String(port), "--user", "alice", "send", "--timeout", "2", "hello?"], {
        PARLEY_PASSWORD: "password-of-alice"
      })
      assert.strictEqual(yield* run.exit, 1, run.stderr())
      assert.match(
        run.stderr(),
        /gave up after 2 s \(--timeout\): never logged in, nothing was sent \(is the server at 127\.0\.0\.1:\d+ running\?\)/
      )
      // it gave up instead of retrying for ever (start-up of node + tsx included)
      assert.isBelow(Date.now() - started, 20_000)

      const bad = yield* parley(["--port", String(port), "--user", "alice", "send", "--timeout", "0", "hi"], {
        PARLEY_PASSWORD: "password-of-alice"
      })
      assert.strictEqual(yield* bad.exit, 1)
      assert.match(bad.stderr(), /--timeout must be 1 second or more/)
    }), { timeout: 60_000 })
})
