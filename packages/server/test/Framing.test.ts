/**
 * Framing and the frame-level errors of protocol v1, against the real server
 * process: HELLO, id echo, INVALID_JSON / INVALID_COMMAND / UNKNOWN_COMMAND,
 * split and coalesced frames, and lines over the frame limit.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Net from "node:net"
import { spawnServer } from "./support/ServerProcess.ts"
import { contractTimeout, startServer } from "./support/TestServer.ts"
import { type Frame, signUp, Wire } from "./support/Wire.ts"

const bytes = (s: string) => Buffer.from(s, "utf8")

/** Writes `data` one byte per write (each its own TCP segment, Nagle being off). */
const byteAtATime = (wire: Wire, data: Uint8Array) =>
  Effect.forEach(Array.from(data), (b) => wire.write(Uint8Array.of(b)), { discard: true })

const assertStaysOpen = (wire: Wire) =>
  Effect.gen(function*() {
    const before = yield* wire.sync()
    assert.deepStrictEqual(before, [], "nothing unasked for before the PONG")
  })

describe.concurrent("framing", { timeout: contractTimeout }, () => {
  it.scopedLive(
    "values nested thousands deep or thousands wide, before login: INVALID_COMMAND on that connection, short, and nothing else happens (real process)",
    () =>
      Effect.gen(function*() {
        const server = yield* spawnServer()
        const { wire: bystander } = yield* signUp(server.port, "bystander")
        const attacker = yield* Wire.connect(server.port, "attacker")
        const lines = [
          `{"command":"MSG","id":1,"text":${"[".repeat(3000)}${"]".repeat(3000)}}`,
          `{"command":"REGISTER","id":2,"username":${"{\"a\":".repeat(10_000)}1${
            "}".repeat(10_000)
          },"password":"correct horse"}`,
          `{"command":"CONNECT","id":3,"username":[${
            Array.from({ length: 5000 }, (_, i) => `"u${i}"`).join(",")
          }],"password":"x"}`,
          `{"command":"HISTORY","id":4,"limit":1e999}`
        ]
        for (const line of lines) yield* attacker.write(line + "\n")
        const replies = yield* attacker.take(4, "ERROR")
        assert.deepStrictEqual(replies.map((r) => [r.id, r.code]), [[1, "INVALID_COMMAND"], [2, "INVALID_COMMAND"], [
          3,
          "INVALID_COMMAND"
        ], [4, "INVALID_COMMAND"]])
        for (const reply of replies) assert.isAtMost(String(reply.message).length, 200, String(reply.message))
        assert.notInclude(String(replies[2]!.message), "u1")
        // the connection and the server go on
        yield* attacker.ask({ command: "PING" }, "PONG")
        yield* bystander.ask({ command: "PING" }, "PONG")
        assert.isFalse(bystander.isClosed)
        assert.notMatch(server.output(), /RangeError|stack size/)
      }),
    60_000
  )

  it.scopedLive("HELLO is sent on accept with the limits in force", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const wire = yield* Wire.connect(server.port)
      const hello = wire.hello
      assert.strictEqual(hello.protocol, 1)
      assert.match(String(hello.server), /^\S+ \S+$/, "server is \"<name> <version>\"")
      assert.deepStrictEqual(hello.limits, { max_frame_bytes: 65536, max_text_chars: 4096 })
      assert.notProperty(hello, "id")
      assert.deepStrictEqual(hello.features, ["rooms"])
      assert.deepStrictEqual(Object.keys(hello).sort(), ["features", "limits", "protocol", "server", "type"])
    }))

  it.scopedLive("ids are echoed verbatim, string or number, on replies and errors, and absent when not sent", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const wire = yield* Wire.connect(server.port)
      assert.deepStrictEqual(yield* wire.request({ command: "PING" }, "PONG"), { type: "PONG" })
      for (const id of ["abc", "", "é 😀", 42, 0, -7, 1.5, 9007199254740991]) {
        assert.deepStrictEqual(yield* wire.request({ command: "PING", id }, "PONG"), { type: "PONG", id })
      }
      // errors echo the id too
      yield* wire.send({ command: "NOPE", id: 7 })
      assert.strictEqual((yield* wire.expectError("UNKNOWN_COMMAND")).id, 7)
      yield* wire.send({ command: "MSG", id: "m1", text: "hi" })
      assert.strictEqual((yield* wire.expectError("NOT_AUTHENTICATED")).id, "m1")
      yield* wire.send({ command: "REGISTER", id: 3, username: "x", password: "correct horse" })
      assert.strictEqual((yield* wire.expectError("INVALID_COMMAND")).id, 3)
      yield* wire.send({ command: "CONNECT", id: "c", username: "nobody", password: "correct horse" })
      assert.strictEqual((yield* wire.expectError("AUTH_FAILED")).id, "c")
      // and an error to a request without id has none
      yield* wire.send({ command: "NOPE" })
      assert.notProperty(yield* wire.expectError("UNKNOWN_COMMAND"), "id")
      yield* wire.send({ command: "DISCONNECT", id: "bye" })
      assert.deepStrictEqual(yield* wire.expect("BYE"), { type: "BYE", id: "bye" })
      yield* wire.expectClosed()
    }))

  it.scopedLive("INVALID_JSON, INVALID_COMMAND and UNKNOWN_COMMAND leave the connection open with its state", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const { wire } = yield* signUp(server.port, "alice")
      const cases: ReadonlyArray<readonly [string, string, RegExp?]> = [
        ["{\"command\":", "INVALID_JSON"],
        ["not json at all", "INVALID_JSON"],
        ["{\"command\":\"PING\",}", "INVALID_JSON"],
        ["[1,2]", "INVALID_COMMAND"],
        ["\"PING\"", "INVALID_COMMAND"],
        ["42", "INVALID_COMMAND"],
        ["null", "INVALID_COMMAND"],
        ["{}", "INVALID_COMMAND", /command/],
        ["{\"id\":1}", "INVALID_COMMAND", /command/],
        ["{\"command\":5}", "INVALID_COMMAND", /command/],
        ["{\"command\":\"PING\",\"id\":true}", "INVALID_COMMAND", /\bid\b/],
        ["{\"command\":\"PING\",\"id\":null}", "INVALID_COMMAND", /\bid\b/],
        ["{\"command\":\"PING\",\"id\":{}}", "INVALID_COMMAND", /\bid\b/],
        ["{\"command\":\"ping\"}", "UNKNOWN_COMMAND"],
        ["{\"command\":\"Ping\"}", "UNKNOWN_COMMAND"],
        ["{\"command\":\"KNOCK\"}", "UNKNOWN_COMMAND"],
        ["{\"command\":\"\"}", "UNKNOWN_COMMAND"],
        ["{\"command\":\"toString\"}", "UNKNOWN_COMMAND"],
        ["{\"command\":\"__proto__\"}", "UNKNOWN_COMMAND"]
      ]
      for (const [line, code, names] of cases) {
        yield* wire.write(line + "\n")
        const error = yield* wire.expectError(code)
        assert.isString(error.message, line)
        assert.isNotEmpty(error.message as string, line)
        if (names !== undefined) assert.match(error.message as string, names, `${line}: the message names the field`)
      }
      // still open and still logged in as alice
      yield* assertStaysOpen(wire)
      const users = yield* wire.request({ command: "USERS" }, "USERS")
      assert.deepStrictEqual(users.online, ["alice"])
    }))

  it.scopedLive("a line that is not UTF-8 is INVALID_JSON and the connection stays open", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const wire = yield* Wire.connect(server.port)
      yield* wire.write(
        Buffer.concat([bytes("{\"command\":\"PING\",\"id\":\""), Buffer.from([0xff, 0xc3, 0x28]), bytes("\"}\n")])
      )
      yield* wire.expectError("INVALID_JSON")
      yield* assertStaysOpen(wire)
    }))

  it.scopedLive("unknown extra fields are ignored", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const wire = yield* Wire.connect(server.port)
      assert.deepStrictEqual(
        yield* wire.request({ command: "PING", id: 1, type: "BYE", extra: { deep: [1] } }, "PONG"),
        { type: "PONG", id: 1 }
      )
    }))

  it.scopedLive("a frame split byte by byte, through multi-byte UTF-8 characters, is one frame", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const { wire: alice } = yield* signUp(server.port, "alice")
      const { wire: bob } = yield* signUp(server.port, "bob")
      yield* alice.expect("PRESENCE")
      const id = "é€😀中"
      yield* byteAtATime(alice, bytes(JSON.stringify({ command: "PING", id }) + "\n"))
      assert.deepStrictEqual(yield* alice.expect("PONG"), { type: "PONG", id })
      const text = "grüße 😀 — 中文 ✓"
      yield* byteAtATime(alice, bytes(JSON.stringify({ command: "MSG", text }) + "\r\n"))
      const ack = yield* alice.expect("ACK")
      const message = yield* bob.expect("MESSAGE")
      assert.strictEqual(message.text, text)
      assert.strictEqual(message.message_id, ack.message_id)
      yield* assertStaysOpen(alice)
    }))

  it.scopedLive("a 4-byte character split across two segments arrives whole", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const wire = yield* Wire.connect(server.port)
      const line = bytes(JSON.stringify({ command: "PING", id: "😀" }) + "\n")
      const at = line.indexOf(0xf0) + 2 // inside the 4-byte sequence
      yield* wire.write(line.subarray(0, at))
      yield* wire.write(line.subarray(at))
      assert.deepStrictEqual(yield* wire.expect("PONG"), { type: "PONG", id: "😀" })
    }))

  it.scopedLive("coalesced frames in one segment are each answered, in order; CRLF accepted; blank lines ignored", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const wire = yield* Wire.connect(server.port)
      yield* wire.write(
        "{\"command\":\"PING\",\"id\":1}\n\n   \n\t\r\n{\"command\":\"PING\",\"id\":2}\r\n\r\n{\"command\":\"NOPE\",\"id\":3}\n{\"command\":\"PING\",\"id\":4}\n"
      )
      const frames: Array<Frame> = []
      for (let i = 0; i < 4; i++) frames.push(yield* wire.next())
      assert.deepStrictEqual(frames.map((f) => [f.type, f.id]), [["PONG", 1], ["PONG", 2], ["ERROR", 3], ["PONG", 4]])
      assert.strictEqual(frames[2]!.code, "UNKNOWN_COMMAND")
      yield* assertStaysOpen(wire)
    }))

  it.scopedLive("a 70,000-byte frame gets exactly one FRAME_TOO_LARGE and the connection keeps working", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const { wire: alice } = yield* signUp(server.port, "alice")
      const big = JSON.stringify({ command: "MSG", text: "x".repeat(70_000 - 27) })
      assert.strictEqual(bytes(big).length, 70_000)
      // in pieces, the way a large line arrives anyway
      const line = bytes(big + "\n")
      for (let at = 0; at < line.length; at += 8192) yield* alice.write(line.subarray(at, at + 8192))
      const error = yield* alice.expectError("FRAME_TOO_LARGE")
      assert.notProperty(error, "id")
      yield* assertStaysOpen(alice)
      // the same once more, in one write, followed at once by a good frame
      yield* alice.write(big + "\n{\"command\":\"PING\",\"id\":\"after\"}\n")
      yield* alice.expectError("FRAME_TOO_LARGE")
      assert.deepStrictEqual(yield* alice.expect("PONG"), { type: "PONG", id: "after" })
      // state kept: still logged in, nothing was stored
      const history = yield* alice.request({ command: "HISTORY" }, "HISTORY")
      assert.deepStrictEqual(history.messages, [])
      yield* assertStaysOpen(alice)
    }))

  it.scopedLive("the limit is on bytes, terminator excluded: 65,536 bytes pass, 65,537 do not", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const wire = yield* Wire.connect(server.port)
      const pingOf = (size: number) => {
        const id = "y".repeat(size - JSON.stringify({ command: "PING", id: "" }).length)
        return { line: JSON.stringify({ command: "PING", id }), id }
      }
      const fits = pingOf(65_536)
      assert.strictEqual(fits.line.length, 65_536)
      yield* wire.write(fits.line + "\r\n")
      assert.deepStrictEqual(yield* wire.expect("PONG"), { type: "PONG", id: fits.id })
      yield* wire.write(pingOf(65_537).line + "\n")
      yield* wire.expectError("FRAME_TOO_LARGE")
      yield* assertStaysOpen(wire)
    }))

  it.scopedLive(
    "a multi-megabyte line without a newline is discarded unbuffered while another connection is served",
    () =>
      Effect.gen(function*() {
        const server = yield* spawnServer()
        const { wire: alice } = yield* signUp(server.port, "alice")
        const { wire: bob } = yield* signUp(server.port, "bob")
        yield* alice.expect("PRESENCE")
        const flood = yield* Wire.connect(server.port, "flood")
        const rssBefore = yield* server.rssKiB
        let rssMax = rssBefore
        const chunk = Buffer.alloc(1 << 20, "a".charCodeAt(0))
        const megabytes = 128
        for (let i = 0; i < megabytes; i++) {
          yield* flood.write(chunk)
          if (i % 16 === 0) {
            rssMax = Math.max(rssMax, yield* server.rssKiB)
            // the others are served meanwhile
            const ack = yield* alice.request({ command: "MSG", text: `while flooding ${i}` }, "ACK")
            const seen = yield* bob.expect("MESSAGE")
            assert.strictEqual(seen.message_id, ack.message_id)
          }
        }
        rssMax = Math.max(rssMax, yield* server.rssKiB)
        // end the line: one FRAME_TOO_LARGE for it, and the connection works on
        yield* flood.write("\n")
        const before = yield* flood.sync()
        assert.deepStrictEqual(before.map((f) => [f.type, f.code]), [["ERROR", "FRAME_TOO_LARGE"]])
        yield* assertStaysOpen(flood)
        // a buffered 128 MiB line would show; allow plenty for allocation churn (~35 MiB seen)
        assert.isBelow(rssMax - rssBefore, 80 * 1024, `RSS grew from ${rssBefore} KiB to ${rssMax} KiB`)
      }),
    60_000
  )
  it.scopedLive("a client that sends its commands and then closes its side (printf ... | nc -q) gets every reply, then EOF", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const lines = [
        { command: "REGISTER", username: "halfway", password: "correct horse battery staple" },
        { command: "CONNECT", username: "halfway", password: "correct horse battery staple" },
        { command: "MSG", text: "first", id: 1 },
        "{not json",
        { command: "MSG", text: "second", id: 2 },
        { command: "PING", id: 3 }
      ].map((l) => (typeof l === "string" ? l : JSON.stringify(l)) + "\n").join("")
      const received = yield* Effect.async<string>((resume) => {
        let text = ""
        const socket = Net.connect(server.port, "127.0.0.1", () => socket.end(lines))
        socket.on("data", (chunk) => (text += chunk.toString("utf8")))
        socket.on("error", () => {})
        socket.on("close", () => resume(Effect.succeed(text)))
      }).pipe(Effect.timeout("20 seconds"))
      const frames = received.trim().split("\n").map((l) => JSON.parse(l) as Frame)
      assert.deepStrictEqual(
        frames.map((f) => [f.type, f.code ?? f.id]),
        [
          ["HELLO", undefined],
          ["REGISTERED", undefined],
          ["CONNECTED", undefined],
          ["ACK", 1],
          ["ERROR", "INVALID_JSON"],
          ["ACK", 2],
          ["PONG", 3]
        ]
      )
    }))
})
