/**
 * SESSIONS and REVOKE of protocol v1.1, over real TCP: the list of your open
 * sessions, revoking one (its token stops working, and every other session
 * that logged in with that token goes with it), revoking all others, and
 * NOT_FOUND for anything that is not one of your open sessions.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { contractTimeout, startServer } from "./support/TestServer.ts"
import { type Frame, logIn, PASSWORD, signUp, TIMESTAMP, Wire } from "./support/Wire.ts"

const sessionsOf = (wire: Wire) =>
  Effect.map(wire.ask({ command: "SESSIONS", id: "s" }, "SESSIONS"), (reply) => reply.sessions as Array<Frame>)

/** The BYE that ends a connection (events before it are skipped), then the close. */
const closedWith = (wire: Wire) =>
  Effect.gen(function*() {
    const { frame } = yield* wire.until("BYE")
    yield* wire.expectClosed()
    return frame
  })

/** A CONNECT on a fresh connection from `address`: the CONNECTED or the ERROR. */
const tryLogIn = (port: number, username: string, login: Readonly<Record<string, unknown>>) =>
  Effect.scoped(Effect.gen(function*() {
    const wire = yield* Wire.connect(port, `${username} again`)
    yield* wire.send({ command: "CONNECT", username, ...login })
    return yield* wire.pick((f) => f.type === "CONNECTED" || f.type === "ERROR")
  }))

describe.concurrent("sessions", () => {
  it.scopedLive(
    "SESSIONS lists your open sessions, oldest first, the current one marked; others' and closed ones are not listed",
    () =>
      Effect.gen(function*() {
        const server = yield* startServer()
        const first = yield* signUp(server.port, "alice")
        const bob = yield* signUp(server.port, "bob")
        const phone = yield* Wire.connect(server.port, "alice phone", "127.0.0.2")
        const onPhone = yield* phone.request({ command: "CONNECT", username: "ALICE", password: PASSWORD }, "CONNECTED")

        const list = yield* sessionsOf(phone)
        assert.deepStrictEqual(list.map((s) => s.session_id), [first.connected.session_id, onPhone.session_id])
        assert.deepStrictEqual(list.map((s) => s.current), [false, true])
        assert.deepStrictEqual(list.map((s) => s.ip_address), ["127.0.0.1", "127.0.0.2"])
        for (const s of list) assert.match(s.connect_time as string, TIMESTAMP)
        assert.deepStrictEqual((yield* sessionsOf(bob.wire)).map((s) => s.session_id), [bob.connected.session_id])

        // a closed session leaves the list
        yield* first.wire.send({ command: "DISCONNECT" })
        yield* closedWith(first.wire)
        assert.deepStrictEqual((yield* sessionsOf(phone)).map((s) => s.session_id), [onPhone.session_id])

        // before login it is NOT_AUTHENTICATED, like every command after login
        const guest = yield* Wire.connect(server.port, "guest")
        yield* guest.send({ command: "SESSIONS", id: 1 })
        assert.strictEqual((yield* guest.replyError("NOT_AUTHENTICATED")).id, 1)
      }),
    contractTimeout
  )

  it.scopedLive(
    "REVOKE session_id: that session gets BYE revoked, its token stops working, and so does every session that logged in with it",
    () =>
      Effect.gen(function*() {
        const server = yield* startServer()
        const laptop = yield* signUp(server.port, "alice")
        const token = laptop.connected.token as string
        // a second connection of the laptop, logged in with the laptop's token
        const laptop2 = yield* logIn(server.port, "alice", { token })
        const phone = yield* logIn(server.port, "alice")
        const watcher = yield* signUp(server.port, "bob")

        const ok = yield* phone.wire.ask({ command: "REVOKE", id: "r1", session_id: laptop.connected.session_id }, "OK")
        assert.strictEqual(ok.id, "r1")
        for (const revoked of [laptop.wire, laptop2.wire]) {
          assert.deepStrictEqual(yield* closedWith(revoked), { type: "BYE", reason: "revoked" })
        }
        const refused = yield* tryLogIn(server.port, "alice", { token })
        assert.strictEqual(refused.code, "AUTH_FAILED")
        // the phone, with its own token, goes on; alice is still online for others
        assert.deepStrictEqual((yield* sessionsOf(phone.wire)).map((s) => s.session_id), [phone.connected.session_id])
        assert.deepStrictEqual((yield* watcher.wire.ask({ command: "USERS" }, "USERS")).online, ["alice", "bob"])
        assert.strictEqual((yield* tryLogIn(server.port, "alice", { token: phone.connected.token })).type, "CONNECTED")
      }),
    contractTimeout
  )

  it.scopedLive(
    "REVOKE of the current session: OK first, then BYE revoked, and its token is dead",
    () =>
      Effect.gen(function*() {
        const server = yield* startServer()
        const alice = yield* signUp(server.port, "alice")
        yield* alice.wire.request({ command: "REVOKE", session_id: alice.connected.session_id }, "OK")
        assert.deepStrictEqual(yield* alice.wire.next(), { type: "BYE", reason: "revoked" })
        yield* alice.wire.expectClosed()
        assert.strictEqual(
          (yield* tryLogIn(server.port, "alice", { token: alice.connected.token })).code,
          "AUTH_FAILED"
        )
        // the password still works and gives a new token
        assert.strictEqual((yield* tryLogIn(server.port, "alice", { password: PASSWORD })).type, "CONNECTED")
      }),
    contractTimeout
  )

  it.scopedLive(
    "REVOKE all_others: every other session ends and its token dies; the current one and its token stay",
    () =>
      Effect.gen(function*() {
        const server = yield* startServer()
        const here = yield* signUp(server.port, "alice")
        const others = [yield* logIn(server.port, "alice"), yield* logIn(server.port, "alice")]
        // same token as this session: ended, but the token is this session's own and keeps working
        const twin = yield* logIn(server.port, "alice", { token: here.connected.token })

        yield* here.wire.ask({ command: "REVOKE", all_others: true }, "OK")
        for (const other of [...others.map((o) => o.wire), twin.wire]) {
          assert.deepStrictEqual(yield* closedWith(other), { type: "BYE", reason: "revoked" })
        }
        assert.deepStrictEqual((yield* sessionsOf(here.wire)).map((s) => s.session_id), [here.connected.session_id])
        for (const other of others) {
          assert.strictEqual(
            (yield* tryLogIn(server.port, "alice", { token: other.connected.token })).code,
            "AUTH_FAILED"
          )
        }
        assert.strictEqual((yield* tryLogIn(server.port, "alice", { token: here.connected.token })).type, "CONNECTED")
        // alone now: still OK, nothing happens
        yield* here.wire.ask({ command: "REVOKE", all_others: true }, "OK")
        yield* here.wire.ask({ command: "PING" }, "PONG")
      }),
    contractTimeout
  )

  it.scopedLive(
    "REVOKE of another user's, a closed or an unknown session is NOT_FOUND and changes nothing",
    () =>
      Effect.gen(function*() {
        const server = yield* startServer()
        const alice = yield* signUp(server.port, "alice")
        const bob = yield* signUp(server.port, "bob")
        const gone = yield* logIn(server.port, "alice")
        yield* gone.wire.send({ command: "DISCONNECT" })
        yield* closedWith(gone.wire)

        for (const sessionId of [bob.connected.session_id, gone.connected.session_id, 999_999]) {
          yield* alice.wire.send({ command: "REVOKE", id: sessionId, session_id: sessionId })
          const error = yield* alice.wire.replyError("NOT_FOUND")
          assert.strictEqual(error.id, sessionId)
          assert.isAtMost((error.message as string).length, 200)
        }
        yield* bob.wire.ask({ command: "PING" }, "PONG")
        assert.strictEqual((yield* tryLogIn(server.port, "bob", { token: bob.connected.token })).type, "CONNECTED")
        // malformed: both or neither is INVALID_COMMAND
        yield* alice.wire.send({ command: "REVOKE", session_id: 1, all_others: true })
        yield* alice.wire.replyError("INVALID_COMMAND")
        yield* alice.wire.send({ command: "REVOKE", all_others: false })
        yield* alice.wire.replyError("INVALID_COMMAND")
        yield* alice.wire.ask({ command: "PING" }, "PONG")
      }),
    contractTimeout
  )
})
