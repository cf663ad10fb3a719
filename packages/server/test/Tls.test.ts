/**
 * TLS, as the wire contract's "Transport" addition says: with `--tls-cert`
 * and `--tls-key` the server also listens with TLS (1.2 or later) on
 * `--tls-port`, speaking the same protocol through the same accept path;
 * `SIGHUP` reloads the certificate without closing any connection; `--port
 * off` serves TLS only. Each test owns a server process and a certificate
 * made with `openssl` in a temp directory; clients trust only that
 * certificate and check the server's name (127.0.0.1).
 */
import { assert, describe, it } from "@effect/vitest"
import { install, installedIn, selfSigned } from "@parley/testkit/certificate"
import { Data, Duration, Effect, Option, Schedule } from "effect"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import type * as Tls from "node:tls"
import { runServerCommand, ServerProcessError, spawnServer, tempDir } from "./support/ServerProcess.ts"
import { PASSWORD, say, signUp, Wire } from "./support/Wire.ts"

class RawError extends Data.TaggedError("RawError")<{ readonly message: string }> {}

/** A server listening on TCP and TLS (both on port 0) with a fresh self-signed certificate. */
const tlsServer = (flags: ReadonlyArray<string> = []) =>
  Effect.gen(function*() {
    const dir = yield* tempDir
    const { certFile, first, keyFile } = yield* installedIn(dir)
    const server = yield* spawnServer({
      flags: ["--tls-cert", certFile, "--tls-key", keyFile, "--tls-port", "0", ...flags]
    })
    assert.isDefined(server.tlsPort, server.output())
    return { server, tlsPort: server.tlsPort!, dir, certFile, keyFile, first } as const
  })

/** Registers and logs in `username` over TLS. */
const signUpTls = (tlsPort: number, ca: string, username: string) =>
  Effect.gen(function*() {
    const wire = yield* Wire.connectTls(tlsPort, ca, username)
    yield* wire.request({ command: "REGISTER", username, password: PASSWORD }, "REGISTERED")
    yield* wire.request({ command: "CONNECT", username, password: PASSWORD }, "CONNECTED")
    return wire
  })

/**
 * A plain TCP socket to `port` that writes `bytes` (if any) and resolves with
 * everything it received once the server closes it.
 */
const rawUntilClosed = (port: number, bytes: Uint8Array | undefined, wait: Duration.DurationInput = "10 seconds") =>
  Effect.async<Buffer, RawError>((resume) => {
    const chunks: Array<Buffer> = []
    const socket = Net.connect({ host: "127.0.0.1", port }, () => {
      if (bytes !== undefined) socket.write(bytes)
    })
    socket.on("data", (chunk: Buffer) => void chunks.push(chunk))
    socket.on("error", () => {
      // 'close' follows
    })
    socket.on("close", () => resume(Effect.succeed(Buffer.concat(chunks))))
    return Effect.sync(() => void socket.destroy())
  }).pipe(
    Effect.timeoutFail({
      duration: wait,
      onTimeout: () =>
        new RawError({ message: `the server kept a raw socket on ${port} open for ${Duration.format(wait)}` })
    })
  )

describe("TLS", () => {
  it.scopedLive(
    "a TLS client speaks the protocol, and TLS and TCP clients see each other's messages",
    () =>
      Effect.gen(function*() {
        const { first, server, tlsPort } = yield* tlsServer()
        assert.match(
          server.output(),
          new RegExp(`listening on 127\\.0\\.0\\.1:${server.port} and with TLS on 127\\.0\\.0\\.1:${tlsPort} \\(`)
        )

        const alice = yield* signUpTls(tlsPort, first.cert, "alice")
        assert.include(["TLSv1.2", "TLSv1.3"], (alice.socket as Tls.TLSSocket).getProtocol())
        assert.strictEqual(alice.hello.protocol, 1)
        assert.strictEqual(alice.peerFingerprint, first.fingerprint)
        const { wire: bob } = yield* signUp(server.port, "bob")

        const overTls = yield* say(alice, "hello from TLS")
        const atBob = yield* bob.pick((f) => f.type === "MESSAGE" && f.message_id === overTls.message_id)
        assert.strictEqual(atBob.from, "alice")
        assert.strictEqual(atBob.text, "hello from TLS")

        const overTcp = yield* say(bob, "hello from TCP")
        const atAlice = yield* alice.pick((f) => f.type === "MESSAGE" && f.message_id === overTcp.message_id)
        assert.strictEqual(atAlice.from, "bob")
        assert.strictEqual(atAlice.text, "hello from TCP")

        const dm = yield* say(bob, "just you", { to: "alice" })
        const dmAtAlice = yield* alice.pick((f) => f.type === "MESSAGE" && f.message_id === dm.message_id)
        assert.strictEqual(dmAtAlice.to, "alice")
      }),
    { timeout: 60_000 }
  )

  it.scopedLive(
    "TLS and TCP connections count together per address, as every connection does",
    () =>
      Effect.gen(function*() {
        const { first, server, tlsPort } = yield* tlsServer(["--max-conns-per-ip", "2"])
        yield* Wire.connectTls(tlsPort, first.cert, "tls 1")
        yield* Wire.connect(server.port, "tcp 1")
        const third = yield* Effect.either(Wire.connectTls(tlsPort, first.cert, "tls 2"))
        assert.isTrue(
          third._tag === "Left" && /"reason":"too_many_connections"/.test(third.left.message),
          String(third)
        )
        const fourth = yield* Effect.either(Wire.connect(server.port, "tcp 2"))
        assert.isTrue(
          fourth._tag === "Left" && /"reason":"too_many_connections"/.test(fourth.left.message),
          String(fourth)
        )
      }),
    { timeout: 60_000 }
  )

  it.scopedLive(
    "a handshake that never completes takes no connection slot and is dropped",
    () =>
      Effect.gen(function*() {
        const { first, tlsPort } = yield* tlsServer(["--max-conns-per-ip", "1"])
        // connected, silent: the handshake never starts
        const silent = yield* Effect.fork(rawUntilClosed(tlsPort, undefined, "30 seconds"))
        const wire = yield* Wire.connectTls(tlsPort, first.cert, "after the silent one")
        yield* wire.sync()
        // the handshake timeout ends it, however long the auth timeout is
        const received = yield* silent
        assert.strictEqual(received.length, 0)
        yield* wire.sync()
      }),
    { timeout: 60_000 }
  )

  it.scopedLive(
    "handshakes one address never finishes are capped: past its share plus 16 they are closed at once; others connect",
    () =>
      Effect.gen(function*() {
        const { first, tlsPort } = yield* tlsServer(["--max-conns-per-ip", "2"])
        // 30 silent sockets from 127.0.0.1: 18 (2 + 16) may wait out their handshake, the rest are closed at once
        const silent = yield* Effect.forEach(
          Array.from({ length: 30 }),
          () => Effect.fork(rawUntilClosed(tlsPort, undefined, "30 seconds")),
          { concurrency: 1 }
        )
        const wire = yield* Wire.connectTls(tlsPort, first.cert, "from elsewhere", "127.0.0.2")
        const doneCount = Effect.map(Effect.forEach(silent, (fiber) => fiber.poll), (polls) =>
          polls.filter(Option.isSome).length)
        // the 12 past the cap are closed at once; the other 18 wait out the 10 s handshake timeout
        const { done: atOnce } = yield* Effect.iterate({ round: 0, done: 0 }, {
          while: ({ done, round }) =>
            done < 12 && round < 1000,
          body: ({ round }) =>
            Effect.map(Effect.zipRight(wire.sync(), doneCount), (done) => ({ round: round + 1, done }))
        })
        assert.strictEqual(atOnce, 12, "sockets past the cap were not closed at once, or too many were")
        const all = yield* Effect.forEach(silent, (fiber) => fiber.await)
        assert.isTrue(all.every((exit) => exit._tag === "Success"), "a silent handshake was never closed")
      }),
    { timeout: 60_000 }
  )

  it.scopedLive(
    "a plain-text client and a garbage handshake on the TLS port are dropped; nothing else notices",
    () =>
      Effect.gen(function*() {
        const { first, server, tlsPort } = yield* tlsServer()
        const alice = yield* signUpTls(tlsPort, first.cert, "alice")

        const plain = yield* rawUntilClosed(tlsPort, Buffer.from(`{"command":"PING","id":1}\n`))
        assert.notInclude(plain.toString("latin1"), "HELLO")
        // a TLS record header announcing a handshake, then noise
        const noise = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40]), Buffer.alloc(64, 0xa5)])
        const garbage = yield* rawUntilClosed(tlsPort, noise)
        assert.notInclude(garbage.toString("latin1"), "HELLO")
        // a client that does not trust the certificate gives up in the handshake
        const untrusting = yield* Effect.either(
          Wire.connectTls(tlsPort, (yield* selfSigned(yield* tempDir, "other")).cert)
        )
        assert.isTrue(untrusting._tag === "Left")

        yield* alice.sync()
        yield* say(alice, "still here")
        yield* Wire.connectTls(tlsPort, first.cert, "new tls")
        yield* Wire.connect(server.port, "new tcp")
        assert.notMatch(server.output(), /level=(ERROR|FATAL)/)
      }),
    { timeout: 60_000 }
  )

  it.scopedLive("--port off listens with TLS only", () =>
    Effect.gen(function*() {
      const { first, server, tlsPort } = yield* tlsServer(["--port", "off"])
      assert.strictEqual(server.port, 0)
      assert.match(server.output(), new RegExp(`Parley listening with TLS on 127\\.0\\.0\\.1:${tlsPort} \\(`))
      assert.notMatch(server.output(), /listening on /)
      const wire = yield* signUpTls(tlsPort, first.cert, "alice")
      yield* say(wire, "TLS only")
    }), { timeout: 60_000 })

  it.scopedLive(
    "the TLS flags can come from PARLEY_TLS_CERT, PARLEY_TLS_KEY and PARLEY_TLS_PORT",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const certificate = yield* selfSigned(dir, "env")
        const server = yield* spawnServer({
          env: {
            PARLEY_TLS_CERT: Path.join(dir, "env.crt"),
            PARLEY_TLS_KEY: Path.join(dir, "env.key"),
            PARLEY_TLS_PORT: "0"
          }
        })
        assert.isDefined(server.tlsPort, server.output())
        const wire = yield* Wire.connectTls(server.tlsPort!, certificate.cert)
        assert.strictEqual(wire.peerFingerprint, certificate.fingerprint)
      }),
    { timeout: 60_000 }
  )

  it.scopedLive(
    "SIGHUP reloads the certificate for new connections and keeps the open ones",
    () =>
      Effect.gen(function*() {
        const { certFile, dir, first, keyFile, server, tlsPort } = yield* tlsServer()
        const alice = yield* signUpTls(tlsPort, first.cert, "alice")

        const second = yield* selfSigned(dir, "second")
        assert.notStrictEqual(second.fingerprint, first.fingerprint)
        yield* install(second, certFile, keyFile)
        yield* server.signal("SIGHUP")
        yield* server.waitForOutput(/SIGHUP: reloaded the TLS certificate/)

        // the open connection goes on, with the certificate it was opened with
        yield* alice.sync()
        yield* say(alice, "after the reload")
        assert.strictEqual(alice.peerFingerprint, first.fingerprint)
        // a new one gets the new certificate; a client trusting only the old one now refuses it
        const fresh = yield* Wire.connectTls(tlsPort, second.cert, "fresh")
        assert.strictEqual(fresh.peerFingerprint, second.fingerprint)
        const stale = yield* Effect.either(Wire.connectTls(tlsPort, first.cert, "trusting the old one"))
        assert.isTrue(stale._tag === "Left")
        assert.isFalse(alice.isClosed)
      }),
    { timeout: 60_000 }
  )

  it.scopedLive(
    "a reload from unusable files keeps the certificate in use and logs a warning",
    () =>
      Effect.gen(function*() {
        const { certFile, dir, first, keyFile, server, tlsPort } = yield* tlsServer()
        const alice = yield* signUpTls(tlsPort, first.cert, "alice")

        // not PEM at all
        Fs.writeFileSync(certFile, "this is not a certificate\n")
        yield* server.signal("SIGHUP")
        yield* server.waitForOutput(/level=WARN .*SIGHUP: kept the TLS certificate in use: .*not a PEM certificate/)
        // a certificate with a key that is not its own
        const second = yield* selfSigned(dir, "second")
        Fs.writeFileSync(certFile, second.cert)
        Fs.writeFileSync(keyFile, first.key)
        yield* server.signal("SIGHUP")
        yield* server.waitForOutput(/kept the TLS certificate in use[\s\S]*kept the TLS certificate in use/)
        // a missing file
        Fs.rmSync(keyFile)
        yield* server.signal("SIGHUP")
        yield* server.waitForOutput(
          /kept the TLS certificate in use: cannot read the TLS key \(--tls-key\) .*: no such file/
        )

        const fresh = yield* Wire.connectTls(tlsPort, first.cert, "fresh")
        assert.strictEqual(fresh.peerFingerprint, first.fingerprint)
        yield* alice.sync()
      }),
    { timeout: 60_000 }
  )

  it.scopedLive(
    "SIGHUP never stops the server: without TLS it is logged and ignored, and while starting it is held",
    () =>
      Effect.gen(function*() {
        const server = yield* spawnServer({
          // signalled once bin.ts holds signals (it names the process after that)
          beforeListening: (pid) =>
            Effect.suspend(() =>
              Fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "parley-server"
                ? Effect.sync(() => process.kill(pid, "SIGHUP"))
                : Effect.fail(new ServerProcessError({ message: "not named parley-server yet" }))
            ).pipe(Effect.retry({ schedule: Schedule.spaced("20 millis"), times: 1500 }))
        })
        yield* server.signal("SIGHUP")
        yield* server.waitForOutput(/SIGHUP ignored: no --tls-cert\/--tls-key to reload/)
        const wire = yield* Wire.connect(server.port)
        yield* wire.sync()
      }),
    { timeout: 60_000 }
  )

  it.scopedLive("unusable TLS flags stop the start with one line and exit 1", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      yield* selfSigned(dir, "good")
      yield* selfSigned(dir, "other")
      const notPem = Path.join(dir, "not.pem")
      Fs.writeFileSync(notPem, "hello\n")
      const db = ["--db", Path.join(dir, "chat.db")]
      const file = (name: string) => Path.join(dir, name)
      const cases: ReadonlyArray<readonly [ReadonlyArray<string>, Readonly<Record<string, string>>, RegExp]> = [
        [["--tls-cert", file("good.crt")], {}, /--tls-cert needs --tls-key too/],
        [[], { PARLEY_TLS_KEY: file("good.key") }, /--tls-key needs --tls-cert too/],
        [["--port", "off"], {}, /--port off serves TLS only: give --tls-cert and --tls-key too/],
        [
          ["--tls-cert", file("missing.crt"), "--tls-key", file("good.key")],
          {},
          /cannot read the TLS certificate \(--tls-cert\) .*missing\.crt: no such file/
        ],
        [["--tls-cert", notPem, "--tls-key", file("good.key")], {}, /are not a PEM certificate and its private key/],
        [
          ["--tls-cert", file("good.crt"), "--tls-key", file("other.key")],
          {},
          /are not a PEM certificate and its private key/
        ]
      ]
      const runs = yield* Effect.forEach(cases, ([flags, env]) => {
        const port = flags.includes("--port") ? [] : ["--port", "0"]
        return runServerCommand([...db, ...port, "--tls-port", "0", ...flags], env)
      }, { concurrency: 3 })
      for (const [i, { code, output }] of runs.entries()) {
        const expected = cases[i]![2]
        assert.strictEqual(code, 1, output)
        assert.strictEqual(output.trim().split("\n").length, 1, output)
        assert.match(output, expected)
        assert.match(output, /^parley-server: /)
      }
      // nothing was opened: the files are checked before the database
      assert.isFalse(Fs.existsSync(Path.join(dir, "chat.db")))
    }), { timeout: 120_000 })
})
