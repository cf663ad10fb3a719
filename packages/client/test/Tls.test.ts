/**
 * The client over TLS against the real server started with a certificate made
 * by `openssl`: the library (login, sending, the reconnect state machine
 * through a server restart) and the `parley` program (`--tls --ca`, and the
 * one-line error without `--ca`).
 */
import { assert, describe, it } from "@effect/vitest"
import { repoRoot, spawnServer } from "@parley/testkit"
import { selfSigned } from "@parley/testkit/certificate"
import { Effect, Either, Queue } from "effect"
import { spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import type { ChatEvent } from "../src/ChatClient.ts"
import { clientOf, illegalEdges, passwordOf, recordStates, waitFor, waitState } from "./Support.ts"

/** A fresh directory, removed with the scope. */
const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "parley-client-tls-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/** A server listening on TCP and TLS with a certificate for localhost and 127.0.0.1. */
const tlsServer = (names?: string) =>
  Effect.gen(function*() {
    const certificate = yield* selfSigned(yield* tempDir, "server", names)
    const server = yield* spawnServer({ flags: ["--tls-cert", certificate.certFile, "--tls-key", certificate.keyFile] })
    assert.isDefined(server.tlsPort, server.output())
    return { server, tlsPort: server.tlsPort!, certificate } as const
  })

interface Run {
  readonly stdout: () => string
  readonly stderr: () => string
  readonly exit: Effect.Effect<number | null>
}

// `parley <args>` as a child process, killed (by PID) with the scope
const parley = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const child = spawn(process.execPath, ["--import", "tsx", "packages/client/src/bin.ts", ...args], {
        cwd: repoRoot,
        env: { ...process.env, ...env },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let out = ""
      let err = ""
      child.stdout.on("data", (d: Buffer) => (out += d.toString("utf8")))
      child.stderr.on("data", (d: Buffer) => (err += d.toString("utf8")))
      const exit = Effect.async<number | null>((resume) => {
        if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.succeed(child.exitCode))
        child.once("exit", (code) => resume(Effect.succeed(code)))
      })
      return { child, run: { stdout: () => out, stderr: () => err, exit } satisfies Run }
    }),
    ({ child }) => Effect.sync(() => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"))
  ).pipe(Effect.map(({ run }) => run))

const isMessageFrom = (from: string, text: string) => (e: ChatEvent): e is Extract<ChatEvent, { type: "MESSAGE" }> =>
  e.type === "MESSAGE" && e.from === from && e.text === text

describe("the client over TLS", () => {
  it.scopedLive(
    "logs in and sends over TLS, and reconnects over TLS after a server restart",
    () =>
      Effect.gen(function*() {
        const { certificate, server, tlsPort } = yield* tlsServer()
        const alice = yield* clientOf(server, "alice", { port: tlsPort, tls: { ca: certificate.cert } })
        const bob = yield* clientOf(server, "bob")
        const states = yield* recordStates(alice)
        const bobEvents = yield* bob.subscribe
        yield* alice.connect
        yield* bob.connect

        yield* alice.send("before the restart")
        yield* waitFor(bobEvents, isMessageFrom("alice", "before the restart"))

        yield* server.kill
        yield* waitState(alice, "Reconnecting")
        yield* server.restart
        yield* waitState(alice, "Connected", "30 seconds")
        yield* alice.send("after the restart")
        yield* waitFor(bobEvents, isMessageFrom("alice", "after the restart"), "30 seconds")

        const now = yield* alice.state.get
        assert.isTrue(now._tag === "Connected" && now.via === "token")
        assert.deepStrictEqual(illegalEdges(states), [])
      }),
    { timeout: 120_000 }
  )

  it.scopedLive(
    "a certificate for another name is refused for good, saying so in one line",
    () =>
      Effect.gen(function*() {
        const { certificate, server, tlsPort } = yield* tlsServer("DNS:chat.example")
        const alice = yield* clientOf(server, "alice", { port: tlsPort, tls: { ca: certificate.cert } })
        const refused = yield* Effect.either(alice.connect)
        assert.isTrue(Either.isLeft(refused))
        if (Either.isLeft(refused)) {
          assert.match(
            refused.left.message,
            /^the TLS certificate of 127\.0\.0\.1:\d+ is not valid for that name .*: use the --host its certificate names$/
          )
        }
        assert.strictEqual((yield* alice.state.get)._tag, "Disconnected")
      }),
    { timeout: 60_000 }
  )

  it.scopedLive(
    "parley send --tls --ca logs in and sends; without --ca it stops with one line saying to pass --ca",
    () =>
      Effect.gen(function*() {
        const { certificate, server, tlsPort } = yield* tlsServer()
        const bob = yield* clientOf(server, "bob")
        const bobEvents = yield* bob.subscribe
        yield* bob.connect
        const env = { PARLEY_PASSWORD: passwordOf("alice") }
        const port = String(tlsPort)

        const sent = yield* parley([
          "--port",
          port,
          "--tls",
          "--ca",
          certificate.certFile,
          "--user",
          "alice",
          "--register",
          "send",
          "over TLS"
        ], env)
        assert.strictEqual(yield* sent.exit, 0, sent.stderr())
        yield* waitFor(bobEvents, isMessageFrom("alice", "over TLS"))

        // --ca alone implies --tls; --host localhost checks the name (SNI) instead of the address
        const byName = yield* parley([
          "--host",
          "localhost",
          "--port",
          port,
          "--ca",
          certificate.certFile,
          "--user",
          "alice",
          "send",
          "by name"
        ], env)
        assert.strictEqual(yield* byName.exit, 0, byName.stderr())
        yield* waitFor(bobEvents, isMessageFrom("alice", "by name"))

        const untrusted = yield* parley(["--port", port, "--tls", "--user", "alice", "send", "never sent"], env)
        assert.strictEqual(yield* untrusted.exit, 1)
        const lines = untrusted.stderr().trim().split("\n")
        assert.strictEqual(lines.length, 1, untrusted.stderr())
        assert.match(
          lines[0]!,
          /^parley: the TLS certificate of 127\.0\.0\.1:\d+ is not trusted \(self-signed certificate\): pass --ca <file>/
        )

        const plainPort = yield* parley([
          "--port",
          String(server.port),
          "--tls",
          "--ca",
          certificate.certFile,
          "--user",
          "alice",
          "send",
          "never sent"
        ], env)
        assert.strictEqual(yield* plainPort.exit, 1)
        assert.match(plainPort.stderr(), /does not speak TLS: use its TLS port/)
        const later = [...(yield* Queue.takeAll(bobEvents))]
        assert.isFalse(later.some(isMessageFrom("alice", "never sent")))
      }),
    { timeout: 120_000 }
  )
})
