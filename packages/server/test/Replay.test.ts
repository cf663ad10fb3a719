/**
 * What a connection receives right after CONNECTED: unread DMs, and with
 * resume_after everything it missed, merged with live messages into one
 * stream in message_id order, each message once, capped with TRUNCATED.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { contractTimeout, startServer } from "./support/TestServer.ts"
import { type Frame, ids, logIn, PASSWORD, register, say, sayAll, signUp, Wire } from "./support/Wire.ts"

const idOf = (frame: Frame) => frame.message_id as number

describe.concurrent("replay", { timeout: contractTimeout }, () => {
  it.scopedLive("unread DMs follow CONNECTED as MESSAGE events, oldest first; public messages and read DMs do not", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      yield* register(server.port, "alice")
      const { wire: bob } = yield* signUp(server.port, "bob")
      const acks = [
        yield* say(bob, "one", { to: "alice" }),
        yield* say(bob, "everyone"),
        yield* say(bob, "two", { to: "ALICE" })
      ]
      const wire = yield* Wire.connect(server.port, "alice")
      yield* wire.send({ command: "CONNECT", username: "alice", password: PASSWORD })
      const connected = yield* wire.expect("CONNECTED")
      assert.strictEqual(connected.unread, 2)
      const replayed = yield* wire.take(2, "MESSAGE")
      assert.deepStrictEqual(replayed, [
        {
          type: "MESSAGE",
          message_id: acks[0]!.message_id,
          from: "bob",
          to: "alice",
          room: null,
          text: "one",
          timestamp: acks[0]!.timestamp
        },
        {
          type: "MESSAGE",
          message_id: acks[2]!.message_id,
          from: "bob",
          to: "alice",
          room: null,
          text: "two",
          timestamp: acks[2]!.timestamp
        }
      ])
      assert.deepStrictEqual(yield* wire.sync(), [])
      // unread until READ: the next login replays them again, then not after READ
      const again = yield* logIn(server.port, "alice")
      assert.deepStrictEqual((yield* again.wire.sync()).map(idOf), replayed.map(idOf))
      yield* again.wire.ask({ command: "READ", message_id: acks[2]!.message_id }, "OK")
      const after = yield* logIn(server.port, "alice")
      assert.strictEqual(after.connected.unread, 0)
      assert.deepStrictEqual(yield* after.wire.sync(), [])
    }))

  it.scopedLive("resume_after adds every public message and DM to or from you after it, your own included, in message_id order, once", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const { wire: a0 } = yield* signUp(server.port, "alice")
      const { wire: bob } = yield* signUp(server.port, "bob")
      const { wire: carol } = yield* signUp(server.port, "carol")
      const x0 = idOf(yield* say(carol, "c->a before, unread", { to: "alice" }))
      const x1 = idOf(yield* say(bob, "b->a before, read", { to: "alice" }))
      const n = idOf(yield* say(bob, "the cursor"))
      const x3 = idOf(yield* say(a0, "alice public"))
      const x4 = idOf(yield* say(a0, "a->b", { to: "bob" }))
      yield* say(bob, "b->c", { to: "carol" })
      const x6 = idOf(yield* say(carol, "c->a after, unread", { to: "alice" }))
      const x7 = idOf(yield* say(bob, "b->a after, read", { to: "alice" }))
      const x8 = idOf(yield* say(a0, "a->a", { to: "alice" }))
      const x9 = idOf(yield* say(carol, "carol public"))
      yield* a0.ask({ command: "READ", message_id: x7 }, "OK") // and x1 with it
      void x1

      const wire = yield* Wire.connect(server.port, "alice resumed")
      yield* wire.send({ command: "CONNECT", username: "alice", password: PASSWORD, resume_after: n })
      const connected = yield* wire.expect("CONNECTED")
      assert.strictEqual(connected.unread, 3) // x0, x6 and the note to self x8
      const stream = yield* wire.sync()
      assert.deepStrictEqual(
        stream.map((f) => [f.type, idOf(f)]),
        [x0, x3, x4, x6, x7, x8, x9].map((id) => ["MESSAGE", id])
      )
      const byId = new Map(stream.map((f) => [idOf(f), f]))
      assert.deepStrictEqual([byId.get(x3)!.from, byId.get(x3)!.to], ["alice", null])
      assert.deepStrictEqual([byId.get(x4)!.from, byId.get(x4)!.to], ["alice", "bob"])
      assert.deepStrictEqual([byId.get(x8)!.from, byId.get(x8)!.to], ["alice", "alice"])
      // and a cursor past the end gives only the unread DMs
      const latest = yield* logIn(server.port, "alice", { password: PASSWORD, resume_after: x9 + 100 })
      assert.deepStrictEqual((yield* latest.wire.sync()).map(idOf), [x0, x6, x8])
    }))

  it.scopedLive("messages sent while a connection is being replayed to arrive once, in message_id order, without gaps", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const { wire: alice } = yield* signUp(server.port, "alice")
      // bob logs in by token below: no password hash, so the login lands inside the flood
      const first = yield* signUp(server.port, "bob")
      yield* first.wire.request({ command: "DISCONNECT" }, "BYE")
      yield* alice.expect("PRESENCE")
      yield* alice.expect("PRESENCE")
      const total = 600
      const bob = yield* Wire.connect(server.port, "bob")
      // alice floods; bob logs in with resume_after 0 once a sixth is stored and the rest is in flight
      yield* alice.write(
        Array.from({ length: total }, (_, i) => JSON.stringify({ command: "MSG", text: `m${i}` }) + "\n").join("")
      )
      const acks: Array<Frame> = []
      while (acks.length < total / 6) acks.push(yield* alice.reply("ACK"))
      yield* bob.send({ command: "CONNECT", username: "bob", token: first.connected.token, resume_after: 0 })
      while (acks.length < total) acks.push(yield* alice.reply("ACK"))
      yield* bob.expect("CONNECTED")
      const all = acks.map(idOf)
      const last = all[all.length - 1]!
      const received: Array<number> = []
      while (received[received.length - 1] !== last) {
        const frame = yield* bob.next()
        assert.strictEqual(frame.type, "MESSAGE", JSON.stringify(frame))
        received.push(idOf(frame))
      }
      assert.deepStrictEqual(received, all)
      assert.deepStrictEqual(yield* bob.sync(), [])
    }))

  it.scopedLive("past the replay cap, TRUNCATED names the oldest message sent and HISTORY pages the rest (--replay-cap 5)", () =>
    Effect.gen(function*() {
      const server = yield* startServer({ replayCap: 5 })
      const { wire: alice } = yield* signUp(server.port, "alice")
      yield* register(server.port, "bob")
      const acks = yield* sayAll(alice, ["p1", "p2", "p3", "p4", "p5", "p6"])
      const dm = yield* say(alice, "dm to bob", { to: "bob" })
      const all = [...acks.map(idOf), idOf(dm)]
      const wire = yield* Wire.connect(server.port, "bob")
      yield* wire.send({ command: "CONNECT", username: "bob", password: PASSWORD, resume_after: 0 })
      yield* wire.expect("CONNECTED")
      const truncated = yield* wire.expect("TRUNCATED")
      assert.deepStrictEqual(truncated, { type: "TRUNCATED", before: all[2] })
      assert.deepStrictEqual((yield* wire.sync()).map(idOf), all.slice(2))
      const older = yield* wire.ask({ command: "HISTORY", before: truncated.before }, "HISTORY")
      assert.deepStrictEqual(ids(older), all.slice(0, 2))
      assert.isFalse(older.has_more)
      // exactly the cap: no TRUNCATED
      const exact = yield* logIn(server.port, "bob", { password: PASSWORD, resume_after: all[1] })
      assert.deepStrictEqual(
        (yield* exact.wire.sync()).map((f) => [f.type, f.message_id]),
        all.slice(2).map((id) => ["MESSAGE", id])
      )
    }))
})
