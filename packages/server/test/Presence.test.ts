/**
 * Who is online: USERS, PRESENCE on a user's first and last connection,
 * DISCONNECT with BYE, and the session rows every close leaves behind.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { eventually, sessions, withDatabase } from "./support/SqliteFile.ts"
import { contractTimeout, startServer } from "./support/TestServer.ts"
import { type Frame, logIn, register, say, signUp, Wire } from "./support/Wire.ts"

describe.concurrent("presence", { timeout: contractTimeout }, () => {
  it.scopedLive("USERS lists the users with a live connection, in their registered spelling", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      yield* register(server.port, "Dave")
      const { wire: alice } = yield* signUp(server.port, "alice")
      yield* signUp(server.port, "Bob")
      yield* logIn(server.port, "BOB")
      yield* Wire.connect(server.port, "guest")
      const users = yield* alice.ask({ command: "USERS", id: "u" }, "USERS")
      assert.strictEqual(users.id, "u")
      assert.sameMembers(users.online as Array<string>, ["alice", "Bob"])
      assert.strictEqual((users.online as Array<string>).length, 2, "each user once")
      assert.deepStrictEqual(Object.keys(users).sort(), ["id", "online", "type"])
    }))

  it.scopedLive("PRESENCE goes to every other authenticated connection on a user's first connection and last close only", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      yield* register(server.port, "alice")
      const { connected, wire: carol } = yield* signUp(server.port, "carol")
      assert.deepStrictEqual(connected.online, ["carol"])
      const guest = yield* Wire.connect(server.port, "guest")
      const a1 = yield* logIn(server.port, "ALICE")
      assert.sameMembers(a1.connected.online as Array<string>, ["alice", "carol"])
      assert.deepStrictEqual(yield* carol.expect("PRESENCE"), { type: "PRESENCE", user: "alice", status: "online" })
      // nobody is told about themselves, and guests are told nothing
      assert.deepStrictEqual(yield* a1.wire.sync(), [])
      // a second connection of alice: no PRESENCE to anyone
      const a2 = yield* logIn(server.port, "alice")
      const marker = yield* say(a2.wire, "second connection is up")
      const next = yield* carol.next()
      assert.deepStrictEqual([next.type, next.message_id], ["MESSAGE", marker.message_id], JSON.stringify(next))
      // the first of two connections goes: nothing
      yield* a1.wire.ask({ command: "DISCONNECT" }, "BYE")
      a1.wire.drainPending() // a2's marker
      yield* a1.wire.expectClosed()
      const marker2 = yield* say(a2.wire, "one connection left")
      const next2 = yield* carol.next()
      assert.deepStrictEqual([next2.type, next2.message_id], ["MESSAGE", marker2.message_id], JSON.stringify(next2))
      // the last one goes by a plain close: offline
      a2.wire.socket.destroy()
      assert.deepStrictEqual(yield* carol.expect("PRESENCE"), { type: "PRESENCE", user: "alice", status: "offline" })
      const users = yield* carol.ask({ command: "USERS" }, "USERS")
      assert.deepStrictEqual(users.online, ["carol"])
      assert.deepStrictEqual(yield* guest.sync(), [])
    }))

  it.scopedLive("DISCONNECT answers BYE and the server closes the connection, logged in or not", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const guest = yield* Wire.connect(server.port, "guest")
      assert.deepStrictEqual(yield* guest.request({ command: "DISCONNECT" }, "BYE"), { type: "BYE" })
      yield* guest.expectClosed()
      const { wire } = yield* signUp(server.port, "alice")
      assert.deepStrictEqual(yield* wire.request({ command: "DISCONNECT", id: 1 }, "BYE"), { type: "BYE", id: 1 })
      yield* wire.expectClosed()
      // frames after DISCONNECT in the same segment are not answered
      const eager = yield* Wire.connect(server.port, "eager")
      yield* eager.write("{\"command\":\"DISCONNECT\"}\n{\"command\":\"PING\"}\n")
      assert.deepStrictEqual(yield* eager.expect("BYE"), { type: "BYE" })
      yield* eager.expectClosed()
    }))

  it.scopedLive("every session gets its disconnect_time, whether by DISCONNECT or by the peer closing", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const { connected: first, wire: one } = yield* signUp(server.port, "alice")
      const { connected: second, wire: two } = yield* logIn(server.port, "alice")
      const { connected: third } = yield* logIn(server.port, "alice")
      yield* one.request({ command: "DISCONNECT" }, "BYE")
      two.socket.destroy()
      const rows = yield* eventually(
        sessions(server.db),
        (rows) => rows.filter((r) => r.disconnect_time !== null).length === 2
      )
      const byId = new Map(rows.map((r) => [r.id, r]))
      assert.strictEqual(rows.length, 3)
      for (const closed of [first, second]) {
        const row = byId.get(closed.session_id as number)!
        assert.isNotNull(row.disconnect_time, `session ${row.id}`)
        assert.isAtLeast(Date.parse(row.disconnect_time!), Date.parse(row.connect_time))
      }
      assert.isNull(byId.get(third.session_id as number)!.disconnect_time)
    }))

  it.scopedLive("a storage failure is INTERNAL with the request's id; the connection, the others and later requests carry on", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const { wire: alice } = yield* signUp(server.port, "alice")
      const { wire: bob } = yield* signUp(server.port, "bob")
      yield* alice.expect("PRESENCE")
      const before = yield* say(alice, "before")
      yield* bob.expect("MESSAGE")
      // take the messages table away under the running server, as a broken disk would
      yield* withDatabase(server.db, (sql) => sql`ALTER TABLE messages RENAME TO messages_away`)
      yield* alice.send({ command: "HISTORY", id: "h" })
      const broken = yield* alice.expect("ERROR")
      assert.deepStrictEqual([broken.code, broken.id], ["INTERNAL", "h"])
      yield* alice.send({ command: "MSG", id: "m", text: "lost?" })
      const failed = yield* alice.expect("ERROR")
      assert.deepStrictEqual([failed.code, failed.id], ["INTERNAL", "m"])
      assert.deepStrictEqual(yield* bob.request({ command: "USERS" }, "USERS"), {
        type: "USERS",
        online: ["alice", "bob"]
      })
      // storage back: everything works again on the same connections
      yield* withDatabase(server.db, (sql) => sql`ALTER TABLE messages_away RENAME TO messages`)
      const after = yield* say(alice, "after")
      assert.strictEqual((yield* bob.expect("MESSAGE")).message_id, after.message_id)
      const history = yield* bob.request({ command: "HISTORY" }, "HISTORY")
      assert.deepStrictEqual((history.messages as Array<Frame>).map((m) => m.message_id), [
        before.message_id,
        after.message_id
      ])
    }))
})
