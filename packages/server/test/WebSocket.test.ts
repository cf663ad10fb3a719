/**
 * The WebSocket transport of protocol v1.1 ("Transport", `--web-port`): each
 * text message is exactly one frame in both directions, with every rule,
 * limit and error of the contract; WebSocket and TCP users are connections
 * of one server and see each other; the web port also serves the web
 * client's files (safely) and refuses foreign origins. Real sockets
 * throughout: the `ws` client for WebSocket, raw TCP and HTTP for the rest,
 * and the real process (flags, wss:// with a test certificate, SIGHUP,
 * /metrics) in the last test.
 */
import { assert, describe, it } from "@effect/vitest"
import { install, installedIn, selfSigned } from "@parley/testkit/certificate"
import { Data, Duration, Effect, Either, FastCheck as fc } from "effect"
import * as Fs from "node:fs"
import * as Https from "node:https"
import * as Net from "node:net"
import * as Path from "node:path"
import type { ServerSettings, WebSettings } from "../src/ServerConfig.ts"
import { textFrame, textFrames } from "../src/WebTransport.ts"
import { launchServer } from "./support/InProcessServer.ts"
import { metricsPort, request, scrape, value } from "./support/Prometheus.ts"
import { runServerCommand, spawnServer, tempDir } from "./support/ServerProcess.ts"
import { PASSWORD, say, signUp, Wire } from "./support/Wire.ts"
import { WsWire } from "./support/WsWire.ts"

class HttpError extends Data.TaggedError("HttpError")<{ readonly message: string }> {}

/** A server with the web port on, its files from `root` (a missing directory unless given). */
const webServer = (web: Partial<WebSettings> = {}, settings: Partial<ServerSettings> = {}) =>
  Effect.gen(function*() {
    const dir = yield* tempDir
    const server = yield* launchServer({
      ...settings,
      web: {
        port: 0,
        host: "127.0.0.1",
        root: Path.join(dir, "no-such-dir"),
        origins: "own",
        trustProxy: false,
        ...web
      }
    })
    const webPort = server.webPort!
    return { ...server, webPort, url: `ws://127.0.0.1:${webPort}/ws` } as const
  })

/** Registers and logs in `username` over WebSocket. */
const signUpWs = (url: string, username: string) =>
  Effect.gen(function*() {
    const wire = yield* WsWire.connect(url, username)
    yield* wire.ask({ command: "REGISTER", username, password: PASSWORD }, "REGISTERED")
    const connected = yield* wire.ask({ command: "CONNECT", username, password: PASSWORD }, "CONNECTED")
    return { wire, connected } as const
  })

/** Sends `head` (a whole HTTP/1.1 request, as given) on a raw socket and returns everything until the server closes. */
const rawHttp = (port: number, head: string) =>
  Effect.async<string, HttpError>((resume) => {
    const chunks: Array<Buffer> = []
    const socket = Net.connect({ host: "127.0.0.1", port }, () => socket.write(head))
    socket.on("data", (chunk: Buffer) => void chunks.push(chunk))
    socket.on("error", () => {})
    socket.on("close", () => resume(Effect.succeed(Buffer.concat(chunks).toString("utf8"))))
    return Effect.sync(() => void socket.destroy())
  }).pipe(
    Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new HttpError({ message: "no close in 10 s" }) })
  )

const get = (port: number, path: string, headers: Readonly<Record<string, string>> = {}) =>
  rawHttp(
    port,
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n${
      Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("")
    }\r\n`
  )

/** Why the server refused to open `url` (the test fails plainly if it opened). */
const refusal = (url: string, label: string, options: Parameters<typeof WsWire.open>[2]) =>
  Effect.map(Effect.either(WsWire.open(url, label, options)), (e) => (Either.isLeft(e) ? e.left.message : "opened"))

const statusOf = (response: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1])

describe.concurrent("WebSocket transport", { timeout: 60_000 }, () => {
  it.scopedLive("HELLO, REGISTER, CONNECT, MSG and ACK over WebSocket, one frame per text message, no newline", () =>
    Effect.gen(function*() {
      const server = yield* webServer()
      const { connected, wire } = yield* signUpWs(server.url, "alice")
      assert.strictEqual(wire.hello.protocol, 1)
      assert.deepStrictEqual(wire.hello.limits, { max_frame_bytes: 65536, max_text_chars: 4096 })
      assert.deepStrictEqual(connected.online, ["alice"])
      yield* wire.send({ command: "MSG", text: "hello from a browser", client_msg_id: "c1", id: 7 })
      const ack = yield* wire.reply("ACK")
      assert.strictEqual(ack.id, 7)
      assert.strictEqual(ack.client_msg_id, "c1")
      assert.isNumber(ack.message_id)
      const history = yield* wire.ask({ command: "HISTORY" }, "HISTORY")
      assert.deepStrictEqual((history.messages as Array<{ text: string }>).map((m) => m.text), ["hello from a browser"])
      // every message the server sent is one JSON object, without a trailing newline
      for (const text of wire.texts) {
        assert.notInclude(text, "\n")
        JSON.parse(text)
      }
    }))

  it.scopedLive("a TCP user and a WebSocket user see each other's messages and presence", () =>
    Effect.gen(function*() {
      const server = yield* webServer()
      const { wire: tcp } = yield* signUp(server.port, "tcpuser")
      const { connected, wire: web } = yield* signUpWs(server.url, "webuser")
      assert.sameMembers(connected.online as Array<string>, ["tcpuser", "webuser"])
      assert.deepStrictEqual(yield* tcp.expect("PRESENCE"), { type: "PRESENCE", user: "webuser", status: "online" })
      const fromTcp = yield* say(tcp, "hi from TCP")
      const got = yield* web.expect("MESSAGE")
      assert.deepStrictEqual([got.message_id, got.from, got.text, got.to], [
        fromTcp.message_id,
        "tcpuser",
        "hi from TCP",
        null
      ])
      yield* web.send({ command: "MSG", text: "hi from the web", to: "TCPUSER" })
      const ack = yield* web.reply("ACK")
      const dm = yield* tcp.expect("MESSAGE")
      assert.deepStrictEqual([dm.message_id, dm.from, dm.to, dm.text], [
        ack.message_id,
        "webuser",
        "tcpuser",
        "hi from the web"
      ])
      const users = yield* web.ask({ command: "USERS" }, "USERS")
      assert.sameMembers(users.online as Array<string>, ["tcpuser", "webuser"])
      // the WebSocket user closes with a close frame: its end is recorded like a TCP FIN
      const closed = yield* web.close()
      assert.strictEqual(closed.code, 1000)
      assert.deepStrictEqual(yield* tcp.expect("PRESENCE"), { type: "PRESENCE", user: "webuser", status: "offline" })
      const after = yield* tcp.ask({ command: "USERS" }, "USERS")
      assert.deepStrictEqual(after.online, ["tcpuser"])
    }))

  it.scopedLive("a frame sent in several WebSocket fragments is one frame", () =>
    Effect.gen(function*() {
      const server = yield* webServer()
      const wire = yield* WsWire.connect(server.url)
      yield* wire.sendRaw("{\"command\":", { fin: false })
      yield* wire.sendRaw("\"PING\",\"id\":", { fin: false })
      yield* wire.sendRaw("\"frag\"}", { fin: true })
      assert.deepStrictEqual(yield* wire.next(), { type: "PONG", id: "frag" })
      // a UTF-8 character split across two fragments survives
      const { wire: alice } = yield* signUpWs(server.url, "alice")
      const bytes = Buffer.from(JSON.stringify({ command: "MSG", text: "caf\u00e9 \u2603", id: "m" }))
      const cut = bytes.indexOf(0xe2) + 1
      yield* alice.sendRaw(bytes.subarray(0, cut), { fin: false })
      yield* alice.sendRaw(bytes.subarray(cut), { fin: true })
      yield* alice.reply("ACK")
      const history = yield* alice.ask({ command: "HISTORY" }, "HISTORY")
      assert.strictEqual((history.messages as Array<{ text: string }>)[0]!.text, "caf\u00e9 \u2603")
    }))

  it.scopedLive("a binary message, or a text message holding two frames, gets one INVALID_JSON and nothing in it runs", () =>
    Effect.gen(function*() {
      const server = yield* webServer()
      const { wire } = yield* signUpWs(server.url, "alice")
      yield* wire.sendRaw(Buffer.from(JSON.stringify({ command: "MSG", text: "binary", id: "b" })), { binary: true })
      const binary = yield* wire.expectError("INVALID_JSON")
      assert.include(String(binary.message), "binary")
      const two = [
        JSON.stringify({ command: "MSG", text: "first of two", id: "t1" }),
        JSON.stringify({ command: "MSG", text: "second of two", id: "t2" })
      ]
      yield* wire.sendRaw(two.join("\n"))
      const error = yield* wire.expectError("INVALID_JSON")
      assert.isUndefined(error.id)
      yield* wire.sendRaw(two.join("\r\n") + "\n")
      yield* wire.expectError("INVALID_JSON")
      // one JSON object over several lines is not one frame either (a frame is one line)
      yield* wire.sendRaw(JSON.stringify({ command: "MSG", text: "pretty", id: "p" }, null, 2))
      yield* wire.expectError("INVALID_JSON")
      // an empty message holds no frame
      yield* wire.sendRaw("")
      yield* wire.expectError("INVALID_JSON")
      // a message that is not UTF-8 is INVALID_JSON too, not a closed connection
      yield* wire.sendRaw(Buffer.from([0x7b, 0xc3, 0x28, 0x7d]))
      yield* wire.expectError("INVALID_JSON")
      // nothing else came, and nothing was stored
      assert.deepStrictEqual(yield* wire.sync(), [])
      const history = yield* wire.ask({ command: "HISTORY" }, "HISTORY")
      assert.deepStrictEqual(history.messages, [])
      // one frame with its trailing newline is still one frame
      yield* wire.sendRaw(JSON.stringify({ command: "PING", id: "nl" }) + "\n")
      assert.deepStrictEqual(yield* wire.next(), { type: "PONG", id: "nl" })
    }))

  it.scopedLive("a message past the frame limit gets FRAME_TOO_LARGE and the connection goes on", () =>
    Effect.gen(function*() {
      const server = yield* webServer({}, { maxFrameBytes: 1024 })
      const wire = yield* WsWire.connect(server.url)
      assert.deepStrictEqual(wire.hello.limits, { max_frame_bytes: 1024, max_text_chars: 4096 })
      yield* wire.send({ command: "PING", id: "x".repeat(1100) })
      yield* wire.expectError("FRAME_TOO_LARGE")
      // exactly the limit is a frame
      const exact = JSON.stringify({ command: "PING", id: "" })
      yield* wire.send({ command: "PING", id: "y".repeat(1024 - exact.length) })
      assert.strictEqual((yield* wire.expect("PONG")).id, "y".repeat(1024 - exact.length))
      // fragments count together
      yield* wire.sendRaw("{\"command\":\"PING\",\"id\":\"" + "z".repeat(600), { fin: false })
      yield* wire.sendRaw("z".repeat(600) + "\"}", { fin: true })
      yield* wire.expectError("FRAME_TOO_LARGE")
      assert.deepStrictEqual(yield* wire.ask({ command: "PING", id: "after" }, "PONG"), { type: "PONG", id: "after" })
      // far past it (more than ws is allowed to hold), the connection is closed with 1009
      yield* wire.sendRaw("w".repeat(64 * 1024 + 1))
      assert.strictEqual((yield* wire.waitClosed()).code, 1009)
    }))

  it.scopedLive("a WebSocket reader that stops reading during a storm gets BYE slow_consumer; a TCP one gets everything", () =>
    Effect.gen(function*() {
      const server = yield* webServer({}, { outboundLimitBytes: 64 * 1024 })
      const { wire: sender } = yield* signUp(server.port, "alice")
      const { wire: reader } = yield* signUp(server.port, "bob")
      const { wire: slow } = yield* signUpWs(server.url, "dave")
      yield* sender.take(2, "PRESENCE")
      yield* reader.expect("PRESENCE")
      slow.pause()
      const dropped = () =>
        reader.received.some((f) => f.type === "PRESENCE" && f.user === "dave" && f.status === "offline")
      const acks: Array<unknown> = []
      const bulky = (tag: string) => `${tag} ${"x".repeat(4000)}`
      while (!dropped()) {
        if (acks.length >= 5000) assert.fail(`dave was never dropped after ${acks.length} messages`)
        yield* sender.write(
          Array.from(
            { length: 50 },
            (_, i) => JSON.stringify({ command: "MSG", text: bulky(`s${acks.length + i}`) }) + "\n"
          ).join("")
        )
        for (let i = 0; i < 50; i++) acks.push((yield* sender.reply("ACK", Duration.seconds(20))).message_id)
      }
      const last = acks[acks.length - 1]
      yield* reader.pick((f) => f.type === "MESSAGE" && f.message_id === last, Duration.seconds(30))
      assert.deepStrictEqual(reader.received.filter((f) => f.type === "MESSAGE").map((f) => f.message_id), acks)
      // dave reads again: a prefix of the storm, in order, then BYE slow_consumer and a normal close
      slow.resume()
      const { before, frame } = yield* slow.until("BYE", Duration.seconds(30))
      assert.deepStrictEqual(frame, { type: "BYE", reason: "slow_consumer" })
      const his = before.filter((f) => f.type === "MESSAGE").map((f) => f.message_id)
      assert.isBelow(his.length, acks.length)
      assert.deepStrictEqual(his, acks.slice(0, his.length))
      assert.strictEqual((yield* slow.waitClosed(Duration.seconds(30))).code, 1000)
    }))

  it.scopedLive("the server says BYE then closes with 1000: on DISCONNECT and on the auth timeout", () =>
    Effect.gen(function*() {
      const server = yield* webServer({}, { authTimeoutSeconds: 1 })
      const wire = yield* WsWire.connect(server.url)
      assert.deepStrictEqual(yield* wire.ask({ command: "DISCONNECT", id: 1 }, "BYE"), { type: "BYE", id: 1 })
      assert.strictEqual((yield* wire.waitClosed()).code, 1000)
      const idle = yield* WsWire.connect(server.url)
      assert.deepStrictEqual(yield* idle.next(Duration.seconds(10)), { type: "BYE", reason: "auth_timeout" })
      assert.strictEqual((yield* idle.waitClosed()).code, 1000)
    }))

  it.scopedLive("a page from another origin is refused with 403; the page's own origin and listed ones are not", () =>
    Effect.gen(function*() {
      const server = yield* webServer()
      const own = `http://127.0.0.1:${server.webPort}`
      assert.include(yield* refusal(server.url, "evil", { origin: "https://evil.example" }), "HTTP 403")
      assert.include(yield* refusal(server.url, "other port", { origin: "http://127.0.0.1:1" }), "HTTP 403")
      assert.include(
        yield* refusal(server.url, "https", { origin: `https://127.0.0.1:${server.webPort}` }),
        "HTTP 403"
      )
      const raw = yield* get(server.webPort, "/ws", {
        Origin: "https://evil.example",
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="
      })
      assert.strictEqual(statusOf(raw), 403, raw)
      assert.notInclude(raw, "101 Switching")
      yield* WsWire.connect(server.url, "own", { origin: own })
      const listed = yield* webServer({ origins: ["https://chat.example.com"] })
      yield* WsWire.connect(listed.url, "listed", { origin: "https://chat.example.com" })
      assert.include(
        yield* refusal(listed.url, "own", { origin: `http://127.0.0.1:${listed.webPort}` }),
        "HTTP 403"
      )
    }))

  it.scopedLive("GET /ws without an upgrade is 426; / serves index.html with a strict CSP; no way out of the root", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const root = Path.join(dir, "dist")
      Fs.mkdirSync(Path.join(root, "assets"), { recursive: true })
      Fs.writeFileSync(Path.join(root, "index.html"), "<!doctype html><title>Parley</title>")
      Fs.writeFileSync(Path.join(root, "assets", "app-1234.js"), "console.log(1)")
      Fs.writeFileSync(Path.join(root, ".env"), "SECRET=dotfile")
      Fs.writeFileSync(Path.join(dir, "secret.txt"), "SECRET=outside")
      const server = yield* webServer({ root })

      const upgradeRequired = yield* get(server.webPort, "/ws")
      assert.strictEqual(statusOf(upgradeRequired), 426, upgradeRequired)
      assert.match(upgradeRequired, /\r\nupgrade: websocket\r\n/i)

      const index = yield* request(server.webPort, "/")
      assert.strictEqual(index.status, 200)
      assert.strictEqual(index.body, "<!doctype html><title>Parley</title>")
      assert.strictEqual(index.headers["content-type"], "text/html; charset=utf-8")
      assert.strictEqual(index.headers["cache-control"], "no-cache")
      const csp = String(index.headers["content-security-policy"])
      assert.include(csp, "default-src 'self'")
      assert.include(csp, "connect-src 'self' ws: wss:")
      assert.strictEqual(index.headers["x-content-type-options"], "nosniff")
      const script = yield* request(server.webPort, "/assets/app-1234.js")
      assert.strictEqual(script.status, 200)
      assert.strictEqual(script.headers["content-type"], "text/javascript; charset=utf-8")
      assert.include(String(script.headers["cache-control"]), "immutable")
      const head = yield* request(server.webPort, "/index.html", "HEAD")
      assert.deepStrictEqual([head.status, head.body], [200, ""])
      assert.strictEqual((yield* request(server.webPort, "/nope.js")).status, 404)
      assert.strictEqual((yield* request(server.webPort, "/", "POST")).status, 405)

      for (
        const path of [
          "/../secret.txt",
          "/assets/../../secret.txt",
          "/%2e%2e/secret.txt",
          "/..%2fsecret.txt",
          "/assets/..%2f..%2fsecret.txt",
          "/%2E%2E%2Fsecret.txt",
          "/.env",
          "/%2eenv",
          "/..%5csecret.txt",
          "/%00/index.html"
        ]
      ) {
        const response = yield* get(server.webPort, path)
        assert.include([400, 404], statusOf(response), `${path}: ${response}`)
        assert.notInclude(response, "SECRET", path)
      }
    }))

  it.scopedLive("without a built web client, / says how to build it and /ws still works", () =>
    Effect.gen(function*() {
      const server = yield* webServer()
      const page = yield* request(server.webPort, "/")
      assert.strictEqual(page.status, 503)
      assert.strictEqual(page.headers["content-type"], "text/plain; charset=utf-8")
      assert.include(page.body, "not built")
      assert.include(page.body, "pnpm build")
      yield* WsWire.connect(server.url)
    }))

  it.scopedLive("--max-conns-per-ip counts WebSocket connections with TCP ones, by the peer address", () =>
    Effect.gen(function*() {
      const server = yield* webServer({}, { maxConnsPerIp: 2 })
      yield* Wire.connect(server.port, "tcp")
      yield* WsWire.connect(server.url, "ws 1")
      const third = yield* WsWire.open(server.url, "ws 2")
      assert.deepStrictEqual(yield* third.next(), { type: "BYE", reason: "too_many_connections" })
      assert.strictEqual((yield* third.waitClosed()).code, 1000)
      // a forwarded address means nothing without --trust-proxy
      const forged = yield* WsWire.open(server.url, "forged", { headers: { "X-Forwarded-For": "203.0.113.9" } })
      assert.deepStrictEqual(yield* forged.next(), { type: "BYE", reason: "too_many_connections" })
      // another address has its own share
      yield* Wire.connect(server.port, "other", "127.0.0.2")
    }))

  it.scopedLive("with --trust-proxy the last X-Forwarded-For address counts, for the limits and the session", () =>
    Effect.gen(function*() {
      const server = yield* webServer({ trustProxy: true }, { maxConnsPerIp: 1 })
      const forwarded = (address: string) => ({ headers: { "X-Forwarded-For": `198.51.100.1, ${address}` } })
      const a = yield* WsWire.connect(server.url, "a", forwarded("203.0.113.7"))
      yield* WsWire.connect(server.url, "b", forwarded("203.0.113.8"))
      const again = yield* WsWire.open(server.url, "a again", forwarded("203.0.113.7"))
      assert.deepStrictEqual(yield* again.next(), { type: "BYE", reason: "too_many_connections" })
      yield* a.ask({ command: "REGISTER", username: "alice", password: PASSWORD }, "REGISTERED")
      yield* a.ask({ command: "CONNECT", username: "alice", password: PASSWORD }, "CONNECTED")
      const sessions = yield* a.ask({ command: "SESSIONS" }, "SESSIONS")
      assert.deepStrictEqual((sessions.sessions as Array<{ ip_address: string }>).map((s) => s.ip_address), [
        "203.0.113.7"
      ])
      // the proxy's own address (127.0.0.1) is not one of these: TCP has its own share
      yield* Wire.connect(server.port, "tcp")
    }))

  it.scopedLive(
    "the real process: --web-port with --tls-cert serves https and wss://, SIGHUP reloads it, /metrics counts WebSocket connections",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const { certFile, first, keyFile } = yield* installedIn(dir)
        const site = Path.join(dir, "site")
        Fs.mkdirSync(site)
        Fs.writeFileSync(Path.join(site, "index.html"), "<!doctype html><title>Parley over TLS</title>")
        const server = yield* spawnServer({
          flags: [
            "--tls-cert",
            certFile,
            "--tls-key",
            keyFile,
            "--tls-port",
            "0",
            "--web-port",
            "0",
            "--web-root",
            site,
            "--metrics-port",
            "0"
          ]
        })
        const match = /Parley web client on https:\/\/127\.0\.0\.1:(\d+)\/ and WebSocket wss:\/\/127\.0\.0\.1:\1\/ws\n/
          .exec(server.output())
        assert.isNotNull(match, server.output())
        const webPort = Number(match![1])
        const url = `wss://127.0.0.1:${webPort}/ws`
        assert.deepStrictEqual(yield* httpsGet(webPort, "/", first.cert), {
          status: 200,
          body: "<!doctype html><title>Parley over TLS</title>"
        })
        const { wire: tcp } = yield* signUp(server.port, "tcpuser")
        const web = yield* WsWire.connect(url, "web", { ca: first.cert })
        yield* web.ask({ command: "REGISTER", username: "webuser", password: PASSWORD }, "REGISTERED")
        yield* web.ask({ command: "CONNECT", username: "webuser", password: PASSWORD }, "CONNECTED")
        yield* tcp.expect("PRESENCE")
        yield* web.send({ command: "MSG", text: "over wss" })
        yield* web.reply("ACK")
        assert.strictEqual((yield* tcp.expect("MESSAGE")).text, "over wss")
        const metrics = yield* scrape(metricsPort(server))
        assert.strictEqual(value(metrics.samples, "parley_connections_open"), 2)
        assert.strictEqual(value(metrics.samples, "parley_connections_authenticated"), 2)
        // plain ws:// to the TLS port is not a WebSocket
        assert.isTrue(Either.isLeft(yield* Effect.either(WsWire.open(`ws://127.0.0.1:${webPort}/ws`, "plain"))))
        // SIGHUP: a new wss:// connection gets the new certificate, the open one stays
        const second = yield* selfSigned(dir, "second")
        yield* install(second, certFile, keyFile)
        process.kill(server.pid, "SIGHUP")
        yield* server.waitForOutput(/reloaded the TLS certificate/)
        const renewed = yield* WsWire.connect(url, "renewed", { ca: second.cert })
        yield* renewed.ask({ command: "PING" }, "PONG")
        yield* web.ask({ command: "PING" }, "PONG")
        // the flags are checked
        const bad = yield* runServerCommand(["--web-port", "1", "--web-origin", "not an origin"])
        assert.include(bad.output, "--web-origin not an origin is not an origin")
      })
  )
})

/** An HTTPS GET trusting only `ca`: its status and body. */
const httpsGet = (port: number, path: string, ca: string) =>
  Effect.async<{ readonly status: number; readonly body: string }, HttpError>((resume) => {
    const req = Https.get({ host: "127.0.0.1", port, path, ca, agent: false }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (chunk: Buffer) => void chunks.push(chunk))
      res.on(
        "end",
        () => resume(Effect.succeed({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }))
      )
    })
    req.on("error", (error) => resume(Effect.fail(new HttpError({ message: error.message }))))
    return Effect.sync(() => void req.destroy())
  }).pipe(
    Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new HttpError({ message: "no answer in 10 s" }) })
  )

describe("WebSocket framing", () => {
  it.prop(
    "a line framed as it is queued is the frame textFrames makes of it; a repeated line is framed once",
    [fc.array(fc.uint8Array({ maxLength: 70_000 }).map((b) => b.map((x) => (x === 10 ? 32 : x))), {
      minLength: 1,
      maxLength: 4
    })],
    ([bodies]) => {
      for (const body of bodies) {
        const line = Buffer.concat([body, Buffer.from("\n")])
        const framed = textFrame(line)
        assert.deepStrictEqual(framed, textFrames(line))
        assert.strictEqual(textFrame(line), framed)
        // an equal line that is another buffer is framed again, to the same bytes
        assert.deepStrictEqual(textFrame(Buffer.from(line)), framed)
      }
      // several lines at once (not one frame) are each framed
      const two = Buffer.concat(bodies.flatMap((b) => [b, Buffer.from("\n")]))
      assert.deepStrictEqual(textFrame(two), textFrames(two))
    },
    { fastCheck: { numRuns: 50 } }
  )
})
