/**
 * MSG: public and direct delivery, ACKs, UNKNOWN_USER, the text and
 * client_msg_id rules, timestamps, and client_msg_id idempotency.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { contractTimeout, startServer } from "./support/TestServer.ts"
import { type Frame, logIn, say, signUp, TIMESTAMP, Wire } from "./support/Wire.ts"

/**
 * A barrier for "nothing else was delivered to `wire`": `sender` posts a
 * public message, which `wire` receives; messages arrive in message_id
 * order, so anything delivered before it would have come first. Earlier
 * barriers are the only frames allowed in between.
 */
const nothingBefore = (wire: Wire, sender: Wire) =>
  Effect.asVoid(receive(wire, say(sender, `barrier ${Math.random()}`)))

/** The MESSAGE for `ack` on `wire`, with nothing but barriers before it. */
const receive = <E>(wire: Wire, ack: Effect.Effect<Frame, E> | Frame) =>
  Effect.gen(function*() {
    const { message_id } = "type" in ack ? ack : yield* ack
    while (true) {
      const next = yield* wire.next()
      if (next.type === "MESSAGE" && next.message_id === message_id) return next
      assert.isTrue(
        next.type === "MESSAGE" && String(next.text).startsWith("barrier"),
        `${wire.label} got ${JSON.stringify(next)}`
      )
    }
  })

describe.concurrent("messages", { timeout: contractTimeout }, () => {
  it.scopedLive("a public MSG is ACKed to the sending connection and delivered to every other authenticated connection", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const { wire: a1 } = yield* signUp(server.port, "alice")
      const { wire: a2 } = yield* logIn(server.port, "alice")
      const { wire: bob } = yield* signUp(server.port, "bob")
      const { wire: carol } = yield* signUp(server.port, "carol")
      const guest = yield* Wire.connect(server.port, "guest")
      yield* a1.take(2, "PRESENCE")
      yield* a2.take(2, "PRESENCE")
      yield* bob.expect("PRESENCE")
      // a `from` in the frame is not trusted
      yield* a1.send({ command: "MSG", id: "m", text: "hello, all", from: "mallory", to: null })
      const ack = yield* a1.expect("ACK")
      assert.deepStrictEqual(Object.keys(ack).sort(), ["id", "message_id", "timestamp", "type"])
      assert.strictEqual(ack.id, "m")
      assert.isTrue(Number.isInteger(ack.message_id))
      assert.match(String(ack.timestamp), TIMESTAMP)
      const expected = {
        type: "MESSAGE",
        message_id: ack.message_id,
        from: "alice",
        to: null,
        room: "general",
        text: "hello, all",
        timestamp: ack.timestamp
      }
      for (const wire of [a2, bob, carol]) assert.deepStrictEqual(yield* wire.expect("MESSAGE"), expected)
      // the sending connection got the ACK only, the guest nothing
      assert.deepStrictEqual(yield* a1.sync(), [])
      assert.deepStrictEqual(yield* guest.sync(), [])
      // and the message was stored once, as alice's
      const history = yield* bob.request({ command: "HISTORY" }, "HISTORY")
      assert.deepStrictEqual(history.messages, [expected])
    }))

  it.scopedLive("a DM goes to the recipient's connections and the sender's other connections, nobody else", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const { wire: a1 } = yield* signUp(server.port, "alice")
      const { wire: a2 } = yield* logIn(server.port, "alice")
      const { wire: b1 } = yield* signUp(server.port, "Bob")
      const { wire: b2 } = yield* logIn(server.port, "bob")
      const { wire: carol } = yield* signUp(server.port, "carol")
      const guest = yield* Wire.connect(server.port, "guest")
      yield* a1.take(2, "PRESENCE")
      yield* a2.take(2, "PRESENCE")
      yield* b1.expect("PRESENCE")
      yield* b2.expect("PRESENCE")
      // `to` matches without regard to case; the event reports the registered spelling
      const ack = yield* say(a1, "psst", { to: "BOB", id: 5 })
      assert.strictEqual(ack.id, 5)
      const expected = {
        type: "MESSAGE",
        message_id: ack.message_id,
        from: "alice",
        to: "Bob",
        room: null,
        text: "psst",
        timestamp: ack.timestamp
      }
      for (const wire of [b1, b2, a2]) assert.deepStrictEqual(yield* wire.expect("MESSAGE"), expected)
      assert.deepStrictEqual(yield* a1.sync(), [])
      yield* nothingBefore(carol, a1)
      assert.deepStrictEqual(yield* guest.sync(), [])
      // the other direction, from Bob's second connection
      const reply = yield* say(b2, "hi alice", { to: "alice" })
      for (const wire of [a1, a2, b1]) {
        assert.deepStrictEqual(yield* receive(wire, reply), {
          type: "MESSAGE",
          message_id: reply.message_id,
          from: "Bob",
          to: "alice",
          room: null,
          text: "hi alice",
          timestamp: reply.timestamp
        })
      }
      yield* nothingBefore(carol, b1)
    }))

  it.scopedLive("a DM to yourself is allowed and reaches your other connections once", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const { wire: a1 } = yield* signUp(server.port, "alice")
      const { wire: a2 } = yield* logIn(server.port, "alice")
      const { wire: bob } = yield* signUp(server.port, "bob")
      yield* a1.expect("PRESENCE")
      yield* a2.expect("PRESENCE")
      const ack = yield* say(a1, "note to self", { to: "ALICE" })
      assert.deepStrictEqual(yield* a2.expect("MESSAGE"), {
        type: "MESSAGE",
        message_id: ack.message_id,
        from: "alice",
        to: "alice",
        room: null,
        text: "note to self",
        timestamp: ack.timestamp
      })
      assert.deepStrictEqual(yield* a1.sync(), [])
      yield* nothingBefore(a2, bob)
      yield* nothingBefore(bob, a2)
      const history = yield* a1.ask({ command: "HISTORY", with: "alice" }, "HISTORY")
      assert.deepStrictEqual((history.messages as Array<Frame>).map((m) => m.message_id), [ack.message_id])
    }))

  it.scopedLive("an unknown or malformed `to` is UNKNOWN_USER and nothing is stored; `to: null` is public", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const { wire } = yield* signUp(server.port, "alice")
      for (const to of ["nobody", "no", "bad name!", "", "a".repeat(40)]) {
        yield* wire.send({ command: "MSG", id: to, text: "hello?", to })
        assert.strictEqual((yield* wire.expectError("UNKNOWN_USER")).id, to)
      }
      // not a string: a field failing its rule, or a malformed name; either way nothing is sent
      yield* wire.send({ command: "MSG", id: 1, text: "hello?", to: 42 })
      const error = yield* wire.expect("ERROR")
      assert.include(["INVALID_COMMAND", "UNKNOWN_USER"], error.code)
      const ack = yield* say(wire, "public after all", { to: null })
      const history = yield* wire.request({ command: "HISTORY" }, "HISTORY")
      assert.deepStrictEqual((history.messages as Array<Frame>).map((m) => [m.message_id, m.to]), [[
        ack.message_id,
        null
      ]])
      const dms = yield* wire.request({ command: "HISTORY", with: "alice" }, "HISTORY")
      assert.deepStrictEqual(dms.messages, [])
    }))

  it.scopedLive("text is 1..4096 characters, not only whitespace, newlines allowed, kept verbatim; client_msg_id is 1..64 characters", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const { wire: alice } = yield* signUp(server.port, "alice")
      const { wire: bob } = yield* signUp(server.port, "bob")
      yield* alice.expect("PRESENCE")
      const rejected: ReadonlyArray<readonly [Record<string, unknown>, RegExp]> = [
        [{}, /text/],
        [{ text: "" }, /text/],
        [{ text: "   \n\t  " }, /text/],
        [{ text: "x".repeat(4097) }, /text/],
        [{ text: "😀".repeat(4097) }, /text/],
        [{ text: 42 }, /text/],
        [{ text: null }, /text/],
        [{ text: "ok", client_msg_id: "" }, /client_msg_id/],
        [{ text: "ok", client_msg_id: "k".repeat(65) }, /client_msg_id/],
        [{ text: "ok", client_msg_id: 7 }, /client_msg_id/],
        // U+0000 cannot be stored by PostgreSQL: refused on every backend
        [{ text: "a \u0000 nul" }, /text/],
        [{ text: "ok", client_msg_id: "k\u0000" }, /client_msg_id/]
      ]
      for (const [fields, names] of rejected) {
        yield* alice.send({ command: "MSG", id: "bad", ...fields })
        const error = yield* alice.expectError("INVALID_COMMAND")
        assert.strictEqual(error.id, "bad")
        assert.match(String(error.message), names, JSON.stringify(fields).slice(0, 80))
      }
      const accepted = [
        "x".repeat(4096),
        "😀".repeat(4096), // 4096 characters, 8192 UTF-16 units, 16384 bytes
        "line one\nline two\r\n\ttabbed",
        "  padded  ",
        "\"quotes\" and \\backslashes\\ and \u0001 control",
        "a"
      ]
      for (const text of accepted) {
        const ack = yield* say(alice, text)
        const m = yield* bob.expect("MESSAGE")
        assert.strictEqual(m.message_id, ack.message_id)
        assert.strictEqual(m.text, text)
      }
      const ack = yield* say(alice, "keyed", { client_msg_id: "😀".repeat(64) })
      assert.strictEqual(ack.client_msg_id, "😀".repeat(64))
      // nothing rejected was stored
      const history = yield* bob.ask({ command: "HISTORY" }, "HISTORY")
      assert.deepStrictEqual((history.messages as Array<Frame>).map((m) => m.text), [...accepted, "keyed"])
    }))

  it.scopedLive("timestamps are ISO 8601 UTC with milliseconds, identical in ACK, MESSAGE and HISTORY; message_ids increase", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const { wire: alice } = yield* signUp(server.port, "alice")
      const { wire: bob } = yield* signUp(server.port, "bob")
      yield* alice.expect("PRESENCE")
      const sent: Array<Frame> = []
      const received: Array<Frame> = []
      for (let i = 0; i < 5; i++) {
        sent.push(yield* say(alice, `m${i}`, i % 2 === 0 ? {} : { to: "bob" }))
        received.push(yield* bob.expect("MESSAGE"))
      }
      const ids = sent.map((a) => a.message_id as number)
      for (let i = 1; i < ids.length; i++) assert.isAbove(ids[i]!, ids[i - 1]!)
      for (const [i, ack] of sent.entries()) {
        assert.match(String(ack.timestamp), TIMESTAMP)
        assert.strictEqual(received[i]!.timestamp, ack.timestamp)
        assert.strictEqual(new Date(String(ack.timestamp)).toISOString(), ack.timestamp)
      }
      const pub = yield* bob.request({ command: "HISTORY" }, "HISTORY")
      const dms = yield* bob.request({ command: "HISTORY", with: "alice" }, "HISTORY")
      const stored = [...(pub.messages as Array<Frame>), ...(dms.messages as Array<Frame>)]
      for (const ack of sent) {
        const m = stored.find((s) => s.message_id === ack.message_id)
        assert.strictEqual(m?.timestamp, ack.timestamp)
      }
    }))

  it.scopedLive("with many senders at once, every connection receives every message once, in message_id order", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const senders = yield* Effect.forEach(
        ["sender1", "sender2", "sender3", "sender4"],
        (name) => signUp(server.port, name)
      )
      const { wire: reader } = yield* signUp(server.port, "reader")
      const { wire: target } = yield* signUp(server.port, "target")
      const perSender = 150
      // each sender pipelines public messages and DMs to target, all at the same time
      yield* Effect.forEach(senders, ({ wire }, s) =>
        wire.write(
          Array.from({ length: perSender }, (_, i) =>
            JSON.stringify({ command: "MSG", text: `s${s} ${i}`, ...(i % 3 === 0 ? { to: "target" } : {}) }) + "\n")
            .join("")
        ), { concurrency: "unbounded", discard: true })
      const acks = yield* Effect.forEach(
        senders,
        ({ wire }) =>
          Effect.forEach(
            Array.from({ length: perSender }),
            () => Effect.map(wire.reply("ACK"), (a) => a.message_id as number)
          ),
        { concurrency: "unbounded" }
      )
      const all = acks.flat().sort((a, b) => a - b)
      const dms = acks.flatMap((list) => list.filter((_, i) => i % 3 === 0)).sort((a, b) => a - b)
      const publics = all.filter((id) => !dms.includes(id))
      const stream = (wire: Wire, last: number) =>
        Effect.gen(function*() {
          const got: Array<number> = []
          while (got[got.length - 1] !== last) {
            const frame = yield* wire.pick((f) => f.type === "MESSAGE")
            got.push(frame.message_id as number)
          }
          return got
        })
      assert.deepStrictEqual(yield* stream(reader, publics[publics.length - 1]!), publics)
      assert.deepStrictEqual(yield* stream(target, all[all.length - 1]!), all)
      // each sender sees everyone else's public messages and none of its own, in order
      for (const [s, { wire }] of senders.entries()) {
        const expected = all.filter((id) => !acks[s]!.includes(id) && !dms.includes(id))
        assert.deepStrictEqual(yield* stream(wire, expected[expected.length - 1]!), expected, `sender${s + 1}`)
      }
    }))

  it.scopedLive("client_msg_id makes a send idempotent across connections: the first ACK again, nothing new stored or delivered", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const { wire: a1 } = yield* signUp(server.port, "alice")
      const { wire: a2 } = yield* logIn(server.port, "alice")
      const { wire: bob } = yield* signUp(server.port, "bob")
      yield* a1.expect("PRESENCE")
      yield* a2.expect("PRESENCE")
      const first = yield* say(a1, "once", { client_msg_id: "k1", id: "first" })
      assert.deepStrictEqual(Object.keys(first).sort(), ["client_msg_id", "id", "message_id", "timestamp", "type"])
      assert.strictEqual(first.client_msg_id, "k1")
      yield* bob.expect("MESSAGE")
      yield* a2.expect("MESSAGE")
      // the same key from the other connection, with other text, even as a DM: the first ACK, nothing else
      const again = yield* say(a2, "twice?", { client_msg_id: "k1", id: "again" })
      assert.deepStrictEqual(again, { ...first, id: "again" })
      const dm = yield* say(a2, "as a DM?", { client_msg_id: "k1", to: "bob" })
      assert.deepStrictEqual(dm, {
        type: "ACK",
        message_id: first.message_id,
        timestamp: first.timestamp,
        client_msg_id: "k1"
      })
      // and from a connection opened later
      const { wire: a3 } = yield* logIn(server.port, "alice")
      const later = yield* say(a3, "thrice?", { client_msg_id: "k1" })
      assert.deepStrictEqual(later, {
        type: "ACK",
        message_id: first.message_id,
        timestamp: first.timestamp,
        client_msg_id: "k1"
      })
      yield* nothingBefore(bob, a3)
      yield* nothingBefore(a1, a3)
      yield* bob.expect("MESSAGE") // the second barrier
      // keys belong to their user: bob's k1 is a new message
      const bobs = yield* say(bob, "bob's own", { client_msg_id: "k1" })
      assert.notStrictEqual(bobs.message_id, first.message_id)
      // a DM keyed once is delivered once
      const keyedDm = yield* say(a1, "keyed DM", { client_msg_id: "k2", to: "bob" })
      assert.strictEqual((yield* bob.expect("MESSAGE")).message_id, keyedDm.message_id)
      const resent = yield* say(a1, "keyed DM", { client_msg_id: "k2", to: "bob" })
      assert.deepStrictEqual(resent, keyedDm)
      yield* nothingBefore(bob, a3)
      const history = yield* bob.request({ command: "HISTORY" }, "HISTORY")
      assert.deepStrictEqual(
        (history.messages as Array<Frame>).filter((m) => !String(m.text).startsWith("barrier")).map((
          m
        ) => [m.from, m.text]),
        [["alice", "once"], ["bob", "bob's own"]]
      )
      const dms = yield* bob.request({ command: "HISTORY", with: "alice" }, "HISTORY")
      assert.deepStrictEqual((dms.messages as Array<Frame>).map((m) => m.text), ["keyed DM"])
    }))
})
