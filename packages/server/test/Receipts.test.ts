/**
 * READ, RECEIPT and unread counts: READ marks a DM and the earlier ones from
 * the same sender, tells the sender's live connections once, and the next
 * CONNECT counts and replays only what is still unread.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { contractTimeout, startServer } from "./support/TestServer.ts"
import { type Frame, logIn, register, say, signUp, type Wire } from "./support/Wire.ts"

/** Logs `username` in on a new connection; returns CONNECTED and the MESSAGE ids replayed before a PONG. */
const arrive = (port: number, username: string) =>
  Effect.gen(function*() {
    const { connected, wire } = yield* logIn(port, username)
    const before = yield* wire.sync()
    assert.isTrue(before.every((f) => f.type === "MESSAGE"), JSON.stringify(before))
    return { connected, wire, replayed: before.map((f) => f.message_id as number) } as const
  })

/** `wire` receives nothing but `frames` before a PONG. */
const onlyThese = (wire: Wire, frames: ReadonlyArray<Frame>) =>
  Effect.map(wire.sync(), (got) => assert.deepStrictEqual(got, [...frames], wire.label))

describe.concurrent("receipts", { timeout: contractTimeout }, () => {
  it.scopedLive("READ marks that DM and earlier ones from its sender, and sends one RECEIPT to each of the sender's connections", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      yield* register(server.port, "alice")
      const { wire: b1 } = yield* signUp(server.port, "Bob")
      const { wire: b2 } = yield* logIn(server.port, "bob")
      const { wire: carol } = yield* signUp(server.port, "carol")
      yield* b1.expect("PRESENCE")
      yield* b2.expect("PRESENCE")
      // while alice is offline: three from bob, one from carol, one public
      const d1 = (yield* say(b1, "b1", { to: "alice" })).message_id as number
      const c1 = (yield* say(carol, "c1", { to: "alice" })).message_id as number
      const d2 = (yield* say(b1, "b2", { to: "alice" })).message_id as number
      yield* say(carol, "public")
      const d3 = (yield* say(b1, "b3", { to: "alice" })).message_id as number
      yield* b2.sync()
      yield* b1.sync()
      yield* carol.sync()

      const first = yield* arrive(server.port, "alice")
      assert.strictEqual(first.connected.unread, 4)
      assert.deepStrictEqual(first.replayed, [d1, c1, d2, d3])
      for (const w of [b1, b2, carol]) yield* w.expect("PRESENCE")

      // READ d2: d1 and d2 are read, c1 (another sender) and d3 (later) are not
      assert.deepStrictEqual(yield* first.wire.ask({ command: "READ", message_id: d2, id: "r" }, "OK"), {
        type: "OK",
        id: "r"
      })
      for (const w of [b1, b2]) {
        assert.deepStrictEqual(yield* w.expect("RECEIPT"), { type: "RECEIPT", message_id: d2, by: "alice" })
      }
      yield* onlyThese(b1, [])
      yield* onlyThese(b2, [])
      yield* onlyThese(carol, [])

      const second = yield* arrive(server.port, "ALICE")
      assert.strictEqual(second.connected.unread, 2)
      assert.deepStrictEqual(second.replayed, [c1, d3])

      // READ of an already read DM is fine and still tells the sender
      yield* second.wire.ask({ command: "READ", message_id: d1 }, "OK")
      for (const w of [b1, b2]) {
        assert.deepStrictEqual(yield* w.expect("RECEIPT"), { type: "RECEIPT", message_id: d1, by: "alice" })
      }
      yield* second.wire.ask({ command: "READ", message_id: c1 }, "OK")
      assert.deepStrictEqual(yield* carol.expect("RECEIPT"), { type: "RECEIPT", message_id: c1, by: "alice" })
      yield* onlyThese(b1, [])
      const third = yield* arrive(server.port, "alice")
      assert.strictEqual(third.connected.unread, 1)
      assert.deepStrictEqual(third.replayed, [d3])
      yield* third.wire.ask({ command: "READ", message_id: d3 }, "OK")
      const fourth = yield* arrive(server.port, "alice")
      assert.strictEqual(fourth.connected.unread, 0)
      assert.deepStrictEqual(fourth.replayed, [])
    }))

  it.scopedLive("READ is NOT_FOUND for a public message, someone else's DM, your own DM to another, or no such id", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const { wire: alice } = yield* signUp(server.port, "alice")
      const { wire: bob } = yield* signUp(server.port, "bob")
      const { wire: carol } = yield* signUp(server.port, "carol")
      const pub = (yield* say(bob, "public")).message_id as number
      const bobToCarol = (yield* say(bob, "for carol", { to: "carol" })).message_id as number
      const aliceToBob = (yield* say(alice, "for bob", { to: "bob" })).message_id as number
      for (const message_id of [pub, bobToCarol, aliceToBob, aliceToBob + 1000]) {
        yield* alice.send({ command: "READ", message_id, id: message_id })
        const error = yield* alice.reply("ERROR")
        assert.deepStrictEqual([error.code, error.id], ["NOT_FOUND", message_id])
      }
      for (const fields of [{}, { message_id: "1" }, { message_id: 1.5 }, { message_id: null }]) {
        yield* alice.send({ command: "READ", ...fields })
        const error = yield* alice.reply("ERROR")
        assert.strictEqual(error.code, "INVALID_COMMAND")
        assert.match(String(error.message), /message_id/)
      }
      // none of that marked anything or sent a RECEIPT
      yield* alice.sync()
      const bobs = (yield* bob.sync()).filter((f) => f.type === "RECEIPT")
      assert.deepStrictEqual(bobs, [])
      const { connected } = yield* logIn(server.port, "carol")
      assert.strictEqual(connected.unread, 1)
      void carol
    }))

  it.scopedLive("a RECEIPT for a sender who is offline is not stored", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const bob = yield* signUp(server.port, "bob")
      yield* register(server.port, "alice")
      const dm = (yield* say(bob.wire, "read me", { to: "alice" })).message_id as number
      yield* bob.wire.request({ command: "DISCONNECT" }, "BYE")
      const alice = yield* arrive(server.port, "alice")
      assert.deepStrictEqual(alice.replayed, [dm])
      yield* alice.wire.ask({ command: "READ", message_id: dm }, "OK")
      const back = yield* arrive(server.port, "bob")
      assert.deepStrictEqual(back.replayed, [])
      assert.strictEqual(back.connected.unread, 0)
    }))
})
