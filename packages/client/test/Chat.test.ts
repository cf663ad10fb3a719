import { assert, describe, it } from "@effect/vitest"
import type { Message, Presence, Receipt } from "@parley/protocol"
import { spawnServer } from "@parley/testkit"
import { Effect, Redacted } from "effect"
import type { ChatEvent } from "../src/ChatClient.ts"
import { clientOf, illegalEdges, passwordOf, recordStates, waitFor } from "./Support.ts"

const isMessage = (pred: (m: Message) => boolean) => (e: ChatEvent): e is Message => e.type === "MESSAGE" && pred(e)
const isPresence = (user: string, status: "online" | "offline") => (e: ChatEvent): e is Presence =>
  e.type === "PRESENCE" && e.user === user && e.status === status

describe("ChatClient against the real server", () => {
  it.scopedLive("two clients chat: public messages, DMs, receipts, presence", () =>
    Effect.gen(function*() {
      const server = yield* spawnServer()
      const alice = yield* clientOf(server, "alice")
      const aliceEvents = yield* alice.subscribe
      const aliceStates = yield* recordStates(alice)
      const first = yield* alice.connect
      assert.strictEqual(first.user, "alice")
      assert.deepStrictEqual(first.online, ["alice"])

      const bob = yield* clientOf(server, "Bob")
      const bobEvents = yield* bob.subscribe
      const connected = yield* bob.connect
      assert.sameMembers([...connected.online], ["alice", "Bob"])
      yield* waitFor(aliceEvents, isPresence("Bob", "online"))
      assert.sameMembers([...yield* alice.online.get], ["alice", "Bob"])

      // public: bob gets it as MESSAGE, alice gets her own once (from the ACK)
      const ack = yield* alice.send("hello bob")
      const got = yield* waitFor(bobEvents, isMessage((m) => m.text === "hello bob"))
      assert.strictEqual(got.message_id, ack.message_id)
      assert.strictEqual(got.from, "alice")
      assert.isNull(got.to)
      assert.strictEqual(got.timestamp, ack.timestamp)
      const own = yield* waitFor(aliceEvents, isMessage((m) => m.message_id === ack.message_id))
      assert.strictEqual(own.from, "alice")

      // DM, addressed without regard to case; READ sends bob a receipt
      const dm = yield* bob.send("psst, alice", "ALICE")
      const dmSeen = yield* waitFor(aliceEvents, isMessage((m) => m.message_id === dm.message_id))
      assert.strictEqual(dmSeen.from, "Bob")
      assert.strictEqual(dmSeen.to, "alice")
      yield* alice.markRead(dm.message_id)
      const receipt = yield* waitFor(bobEvents, (e): e is Receipt => e.type === "RECEIPT")
      assert.strictEqual(receipt.message_id, dm.message_id)
      assert.strictEqual(receipt.by, "alice")

      // requests
      const page = yield* alice.history({ with: "bob" })
      assert.deepStrictEqual(page.messages.map((m) => m.text), ["psst, alice"])
      const pub = yield* bob.history()
      assert.deepStrictEqual(pub.messages.map((m) => m.text), ["hello bob"])
      assert.sameMembers([...yield* bob.users], ["alice", "Bob"])
      const unknown = yield* Effect.flip(alice.send("anyone?", "nobody"))
      assert.strictEqual(unknown._tag, "RequestRejected")
      if (unknown._tag === "RequestRejected") assert.strictEqual(unknown.code, "UNKNOWN_USER")
      const empty = yield* Effect.flip(alice.send("   "))
      assert.strictEqual(empty._tag, "InvalidInput")

      // bob leaves: alice sees him go
      yield* bob.disconnect
      assert.strictEqual((yield* bob.state.get)._tag, "Disconnected")
      yield* waitFor(aliceEvents, isPresence("Bob", "offline"))
      assert.deepStrictEqual([...yield* alice.online.get], ["alice"])

      yield* alice.disconnect
      assert.deepStrictEqual(aliceStates, [
        "Disconnected",
        "Connecting",
        "Authenticating",
        "Connected",
        "Disconnecting",
        "Disconnected"
      ])
      assert.deepStrictEqual(illegalEdges(aliceStates), [])
    }))

  it.scopedLive("a wrong password is refused once, not retried", () =>
    Effect.gen(function*() {
      const server = yield* spawnServer()
      const owner = yield* clientOf(server, "carol")
      yield* owner.connect
      const intruder = yield* clientOf(server, "carol", {
        password: Redacted.make("not-carols-password"),
        register: false
      })
      const states = yield* recordStates(intruder)
      const error = yield* Effect.flip(intruder.connect)
      assert.strictEqual(error._tag, "LoginRejected")
      assert.match(error.message, /wrong username or password/)
      const final = yield* intruder.state.get
      assert.strictEqual(final._tag, "Disconnected")
      if (final._tag === "Disconnected") assert.match(final.reason ?? "", /wrong username or password/)
      assert.notInclude(states, "Reconnecting")
      assert.deepStrictEqual(illegalEdges(states), [])
    }))

  it.scopedLive("--register on a name someone else owns says so; on your own name it just logs in", () =>
    Effect.gen(function*() {
      const server = yield* spawnServer()
      yield* (yield* clientOf(server, "dave")).connect
      const again = yield* clientOf(server, "DAVE", { password: Redacted.make(passwordOf("dave")) })
      const connected = yield* again.connect
      assert.strictEqual(connected.user, "dave")
      const other = yield* clientOf(server, "dave", { password: Redacted.make("someone-elses-password") })
      const error = yield* Effect.flip(other.connect)
      assert.match(error.message, /taken by someone else/)
    }))

  it.scopedLive("a token the server does not know falls back to the password on the same link", () =>
    Effect.gen(function*() {
      const server = yield* spawnServer()
      yield* (yield* clientOf(server, "erin")).connect
      const client = yield* clientOf(server, "erin", { register: false, token: "not-a-token-the-server-issued" })
      yield* client.connect
      const state = yield* client.state.get
      assert.strictEqual(state._tag, "Connected")
      if (state._tag === "Connected") assert.strictEqual(state.via, "password")
    }))
})
