/**
 * Accounts and login: REGISTER, CONNECT by password and by token,
 * AUTH_FAILED, ALREADY_AUTHENTICATED, NOT_AUTHENTICATED, and what the
 * database keeps of them.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { launchServer } from "./support/InProcessServer.ts"
import { eventually, everythingStored, sessions, users } from "./support/SqliteFile.ts"
import { contractTimeout, startServer } from "./support/TestServer.ts"
import { type Frame, logIn, PASSWORD, register, signUp, Wire } from "./support/Wire.ts"

const withoutId = ({ id: _id, ...rest }: Frame) => rest

describe.concurrent("accounts", { timeout: contractTimeout }, () => {
  it.scopedLive("REGISTER answers REGISTERED; names are unique without regard to case; logins report the registered spelling", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const wire = yield* Wire.connect(server.port)
      assert.deepStrictEqual(
        yield* wire.request({ command: "REGISTER", id: 1, username: "Alice_01", password: PASSWORD }, "REGISTERED"),
        { type: "REGISTERED", username: "Alice_01", id: 1 }
      )
      for (const username of ["Alice_01", "alice_01", "ALICE_01", "aLiCe_01"]) {
        yield* wire.send({ command: "REGISTER", id: username, username, password: "another password" })
        const taken = yield* wire.expectError("USERNAME_TAKEN")
        assert.strictEqual(taken.id, username)
      }
      // several accounts may be registered on one connection before CONNECT
      yield* wire.request({ command: "REGISTER", username: "bob", password: PASSWORD }, "REGISTERED")
      const connected = yield* wire.request(
        { command: "CONNECT", username: "ALICE_01", password: PASSWORD },
        "CONNECTED"
      )
      assert.strictEqual(connected.user, "Alice_01")
      assert.deepStrictEqual(connected.online, ["Alice_01"])
      const { connected: bob } = yield* logIn(server.port, "BOB")
      assert.strictEqual(bob.user, "bob")
      assert.sameMembers(bob.online as Array<string>, ["Alice_01", "bob"])
      const presence = yield* wire.expect("PRESENCE")
      assert.deepStrictEqual(presence, { type: "PRESENCE", user: "bob", status: "online" })
    }))

  it.scopedLive("of concurrent REGISTERs of one name in different cases, exactly one succeeds", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const spellings = ["zed", "Zed", "ZED", "zEd", "zeD", "ZeD"]
      const wires = yield* Effect.forEach(spellings, (name) => Wire.connect(server.port, name))
      yield* Effect.forEach(
        wires,
        (wire, i) => wire.send({ command: "REGISTER", username: spellings[i], password: PASSWORD }),
        { concurrency: "unbounded" }
      )
      const replies = yield* Effect.forEach(wires, (wire) => wire.next(), { concurrency: "unbounded" })
      const won = replies.filter((r) => r.type === "REGISTERED")
      assert.strictEqual(won.length, 1, JSON.stringify(replies))
      for (const r of replies) {
        if (r.type !== "REGISTERED") assert.deepStrictEqual([r.type, r.code], ["ERROR", "USERNAME_TAKEN"])
      }
      const { connected } = yield* logIn(server.port, "ZED")
      assert.strictEqual(connected.user, won[0]!.username)
    }))

  it.scopedLive("repeated failed logins get AUTH_FAILED or RATE_LIMITED with retry_after_ms, never a closed connection", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      yield* register(server.port, "alice")
      const wire = yield* Wire.connect(server.port)
      for (let i = 0; i < 14; i++) {
        yield* wire.send({ command: "CONNECT", id: i, username: "alice", password: "wrong password" })
        const error = yield* wire.expect("ERROR")
        assert.strictEqual(error.id, i)
        assert.include(["AUTH_FAILED", "RATE_LIMITED"], error.code)
        if (error.code === "RATE_LIMITED") {
          assert.isTrue(
            Number.isInteger(error.retry_after_ms) && (error.retry_after_ms as number) >= 0,
            JSON.stringify(error)
          )
        }
      }
      assert.deepStrictEqual(yield* wire.request({ command: "PING" }, "PONG"), { type: "PONG" })
    }))

  it.scopedLive("past the bound on queued password hashes, REGISTER is RATE_LIMITED with retry_after_ms, and a retry succeeds (in-process)", () =>
    Effect.gen(function*() {
      const server = yield* launchServer({ hashConcurrency: 1, hashQueueLimit: 2 })
      const names = Array.from({ length: 12 }, (_, i) => `storm${i}`)
      const wires = yield* Effect.forEach(names, (name) => Wire.connect(server.port, name))
      yield* Effect.forEach(
        wires,
        (wire, i) => wire.send({ command: "REGISTER", id: i, username: names[i], password: PASSWORD }),
        {
          concurrency: "unbounded",
          discard: true
        }
      )
      const first = yield* Effect.forEach(wires, (wire) => wire.next(), { concurrency: "unbounded" })
      const limited = first.filter((f) => f.type === "ERROR" && f.code === "RATE_LIMITED")
      assert.isAbove(limited.length, 0, JSON.stringify(first))
      for (const f of first) {
        if (f.type === "ERROR") {
          assert.strictEqual(f.code, "RATE_LIMITED")
          assert.isTrue(Number.isInteger(f.retry_after_ms) && (f.retry_after_ms as number) >= 0, JSON.stringify(f))
        } else {
          assert.strictEqual(f.type, "REGISTERED")
        }
      }
      // the refused ones come back one at a time, on the same connections
      for (const [i, f] of first.entries()) {
        if (f.type === "REGISTERED") continue
        yield* Effect.sleep(f.retry_after_ms as number)
        assert.deepStrictEqual(
          yield* wires[i]!.request({ command: "REGISTER", username: names[i], password: PASSWORD }, "REGISTERED"),
          { type: "REGISTERED", username: names[i] }
        )
      }
    }))

  it.scopedLive("a whole population reconnects by token at once", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const names = Array.from({ length: 40 }, (_, i) => `user${i}`)
      const first = yield* Effect.forEach(names, (name) => signUp(server.port, name), { concurrency: 4 })
      const tokens = first.map((f) => String(f.connected.token))
      yield* Effect.forEach(first, (f) => f.wire.ask({ command: "DISCONNECT" }, "BYE"), { concurrency: "unbounded" })
      const again = yield* Effect.forEach(names, (name, i) => logIn(server.port, name, { token: tokens[i] }), {
        concurrency: "unbounded"
      })
      assert.deepStrictEqual(again.map((a) => a.connected.token), tokens)
      assert.deepStrictEqual(again.map((a) => a.connected.user), names)
    }))

  it.scopedLive("REGISTER checks username and password, naming the field; the bounds are characters", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const wire = yield* Wire.connect(server.port)
      const rejected: ReadonlyArray<readonly [Record<string, unknown>, RegExp]> = [
        [{ username: "ab", password: PASSWORD }, /username/],
        [{ username: "a".repeat(33), password: PASSWORD }, /username/],
        [{ username: "has space", password: PASSWORD }, /username/],
        [{ username: "bäd", password: PASSWORD }, /username/],
        [{ username: "dot.ted", password: PASSWORD }, /username/],
        [{ username: 12345, password: PASSWORD }, /username/],
        [{ password: PASSWORD }, /username/],
        [{ username: "carol", password: "seven77" }, /password/],
        [{ username: "carol", password: "😀😀😀😀" }, /password/], // 8 UTF-16 units, 4 characters
        [{ username: "carol", password: "p".repeat(1025) }, /password/],
        [{ username: "carol", password: 12345678 }, /password/],
        [{ username: "carol" }, /password/]
      ]
      for (const [fields, names] of rejected) {
        yield* wire.send({ command: "REGISTER", id: "r", ...fields })
        const error = yield* wire.expectError("INVALID_COMMAND")
        assert.match(String(error.message), names, JSON.stringify(fields))
        assert.strictEqual(error.id, "r")
      }
      // the bounds themselves are accepted
      const accepted: ReadonlyArray<readonly [string, string]> = [
        ["abc", "12345678"],
        ["A-z_0-9".padEnd(32, "x"), "p".repeat(1024)],
        ["emoji_pw", "😀".repeat(8)]
      ]
      for (const [username, password] of accepted) {
        assert.deepStrictEqual(
          yield* wire.request({ command: "REGISTER", username, password }, "REGISTERED"),
          { type: "REGISTERED", username }
        )
      }
      for (const [username, password] of accepted) yield* logIn(server.port, username, { password })
    }))

  it.scopedLive("CONNECT answers CONNECTED with user, session_id, a URL-safe token of 128+ bits, online and unread", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      yield* register(server.port, "alice")
      const first = yield* logIn(server.port, "alice")
      const c = first.connected
      assert.deepStrictEqual(Object.keys(c).sort(), ["online", "session_id", "token", "type", "unread", "user"])
      assert.strictEqual(c.user, "alice")
      assert.isTrue(Number.isInteger(c.session_id), "session_id is an integer")
      assert.match(String(c.token), /^[A-Za-z0-9_-]{22,}$/)
      assert.deepStrictEqual(c.online, ["alice"])
      assert.strictEqual(c.unread, 0)
      // another password login: a new session and a new token
      const second = yield* Wire.connect(server.port)
      const again = yield* second.request(
        { command: "CONNECT", id: 9, username: "alice", password: PASSWORD },
        "CONNECTED"
      )
      assert.strictEqual(again.id, 9)
      assert.notStrictEqual(again.session_id, c.session_id)
      assert.notStrictEqual(again.token, c.token)
      assert.deepStrictEqual(again.online, ["alice"])
      // no PRESENCE for a second connection of the same user, to anyone
      assert.deepStrictEqual(yield* first.wire.sync(), [])
    }))

  it.scopedLive("a token login returns the same token, matches the name without regard to case, and only for its owner", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      yield* register(server.port, "bob")
      const alice = yield* signUp(server.port, "Alice")
      const token = alice.connected.token
      const byToken = yield* logIn(server.port, "alice", { token })
      assert.strictEqual(byToken.connected.token, token)
      assert.strictEqual(byToken.connected.user, "Alice")
      assert.notStrictEqual(byToken.connected.session_id, alice.connected.session_id)
      // and again, even after the password login's connection is gone
      yield* alice.wire.request({ command: "DISCONNECT" }, "BYE")
      const thrice = yield* logIn(server.port, "ALICE", { token })
      assert.strictEqual(thrice.connected.token, token)
      // Alice's token is not Bob's
      const wire = yield* Wire.connect(server.port)
      yield* wire.send({ command: "CONNECT", username: "bob", token })
      yield* wire.expectError("AUTH_FAILED")
      yield* wire.send({ command: "CONNECT", username: "bob", token: "A".repeat(43) })
      yield* wire.expectError("AUTH_FAILED")
    }))

  it.scopedLive("AUTH_FAILED reads the same for an unknown user, a malformed name, a wrong password and a bad token", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      yield* register(server.port, "alice")
      const wire = yield* Wire.connect(server.port)
      const attempts: ReadonlyArray<Record<string, unknown>> = [
        { username: "nobody", password: PASSWORD },
        { username: "no", password: PASSWORD },
        { username: "bad name!", password: PASSWORD },
        { username: "alice", password: "wrong password" },
        { username: "alice", token: "not-a-token-000000000000000" },
        { username: "nobody", token: "not-a-token-000000000000000" }
      ]
      const errors: Array<Frame> = []
      for (const fields of attempts) {
        yield* wire.send({ command: "CONNECT", id: "login", ...fields })
        const error = yield* wire.expectError("AUTH_FAILED")
        assert.strictEqual(error.id, "login")
        errors.push(error)
      }
      for (const error of errors) assert.deepStrictEqual(withoutId(error), withoutId(errors[0]!))
      // still open, still a guest, and a right login works on the same connection
      yield* wire.send({ command: "USERS", id: "u" })
      yield* wire.expectError("NOT_AUTHENTICATED")
      const connected = yield* wire.request({ command: "CONNECT", username: "alice", password: PASSWORD }, "CONNECTED")
      assert.strictEqual(connected.user, "alice")
    }))

  it.scopedLive("CONNECT carries exactly one of password and token", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const { connected } = yield* signUp(server.port, "alice")
      const wire = yield* Wire.connect(server.port)
      yield* wire.send({ command: "CONNECT", id: 1, username: "alice", password: PASSWORD, token: connected.token })
      assert.match(String((yield* wire.expectError("INVALID_COMMAND")).message), /password|token/)
      yield* wire.send({ command: "CONNECT", id: 2, username: "alice" })
      assert.match(String((yield* wire.expectError("INVALID_COMMAND")).message), /password|token/)
      yield* wire.send({ command: "CONNECT", id: 3, password: PASSWORD })
      assert.match(String((yield* wire.expectError("INVALID_COMMAND")).message), /username/)
      yield* wire.send({ command: "CONNECT", id: 4, username: "alice", password: PASSWORD, resume_after: "x" })
      assert.match(String((yield* wire.expectError("INVALID_COMMAND")).message), /resume_after/)
      // nothing of that logged in
      yield* wire.send({ command: "USERS" })
      yield* wire.expectError("NOT_AUTHENTICATED")
    }))

  it.scopedLive("after CONNECT, REGISTER and CONNECT are ALREADY_AUTHENTICATED and change nothing", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      yield* register(server.port, "bob")
      const { wire } = yield* signUp(server.port, "alice")
      yield* wire.send({ command: "REGISTER", id: "r", username: "carol", password: PASSWORD })
      assert.strictEqual((yield* wire.expectError("ALREADY_AUTHENTICATED")).id, "r")
      yield* wire.send({ command: "CONNECT", id: "c", username: "bob", password: PASSWORD })
      assert.strictEqual((yield* wire.expectError("ALREADY_AUTHENTICATED")).id, "c")
      yield* wire.send({ command: "CONNECT", id: "c2", username: "alice", password: PASSWORD })
      yield* wire.expectError("ALREADY_AUTHENTICATED")
      // still alice, and carol was not registered
      const users = yield* wire.request({ command: "USERS" }, "USERS")
      assert.deepStrictEqual(users.online, ["alice"])
      yield* register(server.port, "carol")
      const ack = yield* wire.request({ command: "MSG", text: "still me" }, "ACK")
      const history = yield* wire.request({ command: "HISTORY" }, "HISTORY")
      assert.deepStrictEqual(
        (history.messages as Array<Frame>).map((m) => [m.message_id, m.from]),
        [[ack.message_id, "alice"]]
      )
    }))

  it.scopedLive("before CONNECT, MSG, HISTORY, READ and USERS are NOT_AUTHENTICATED; PING and DISCONNECT work", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      yield* register(server.port, "alice")
      const wire = yield* Wire.connect(server.port)
      const commands: ReadonlyArray<Record<string, unknown>> = [
        { command: "MSG", text: "hello" },
        { command: "MSG", text: "hello", to: "alice" },
        { command: "HISTORY" },
        { command: "HISTORY", with: "alice" },
        { command: "READ", message_id: 1 },
        { command: "USERS" }
      ]
      for (const [i, command] of commands.entries()) {
        yield* wire.send({ ...command, id: i })
        assert.strictEqual((yield* wire.expectError("NOT_AUTHENTICATED")).id, i)
      }
      assert.deepStrictEqual(yield* wire.request({ command: "PING", id: "p" }, "PONG"), { type: "PONG", id: "p" })
      // a failed login leaves it a guest
      yield* wire.send({ command: "CONNECT", username: "alice", password: "wrong password" })
      yield* wire.expectError("AUTH_FAILED")
      yield* wire.send({ command: "MSG", text: "hello" })
      yield* wire.expectError("NOT_AUTHENTICATED")
      assert.deepStrictEqual(yield* wire.request({ command: "DISCONNECT" }, "BYE"), { type: "BYE" })
      yield* wire.expectClosed()
    }))

  it.scopedLive("the database keeps an argon2id PHC hash, no password, no token, last_login and a session per login", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const password = "a rather unusual passphrase 7f3a"
      const { connected, wire } = yield* signUp(server.port, "alice", password)
      const [row] = yield* users(server.db)
      assert.strictEqual(row!.username, "alice")
      assert.match(row!.password_hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/)
      assert.isNotNull(row!.last_login)
      const open = yield* sessions(server.db)
      assert.strictEqual(open.length, 1)
      assert.strictEqual(open[0]!.id, connected.session_id)
      assert.strictEqual(open[0]!.user_id, row!.id)
      assert.strictEqual(open[0]!.ip_address, "127.0.0.1")
      assert.isNull(open[0]!.disconnect_time)
      // neither the password nor the token is anywhere in the database
      const stored = yield* everythingStored(server.db)
      assert.include(stored, "alice")
      assert.notInclude(stored, password)
      assert.notInclude(stored, String(connected.token))
      yield* wire.request({ command: "DISCONNECT" }, "BYE")
      const closed = yield* eventually(sessions(server.db), (rows) => rows[0]?.disconnect_time !== null)
      assert.isNotNull(closed[0]!.disconnect_time)
    }))

  // the in-process server runs on the test's TestClock: a lifetime passes by TestClock.adjust, not by waiting
  it.scoped("a token expires after its lifetime and then fails like a wrong password (in-process, TestClock)", () =>
    Effect.gen(function*() {
      const server = yield* launchServer({ tokenTtlDays: 60 / 86_400 })
      yield* register(server.port, "alice")
      const { connected } = yield* logIn(server.port, "alice")
      const wire = yield* Wire.connect(server.port)
      yield* wire.send({ command: "CONNECT", username: "alice", password: "wrong password" })
      const wrong = yield* wire.expectError("AUTH_FAILED")
      yield* TestClock.adjust("59 seconds")
      const stillValid = yield* logIn(server.port, "alice", { token: connected.token })
      assert.strictEqual(stillValid.connected.token, connected.token)
      yield* TestClock.adjust("2 seconds")
      yield* wire.send({ command: "CONNECT", username: "alice", token: connected.token })
      const expired = yield* wire.expectError("AUTH_FAILED")
      assert.deepStrictEqual(expired, wrong)
    }))

  it.scoped("failed logins for a name from an address are refused for the window, then allowed again (in-process, TestClock)", () =>
    Effect.gen(function*() {
      const server = yield* launchServer({ loginFailures: 2 })
      yield* register(server.port, "alice")
      const wire = yield* Wire.connect(server.port)
      const tryWrong = Effect.zipRight(
        wire.send({ command: "CONNECT", username: "alice", password: "wrong password" }),
        wire.next()
      )
      assert.strictEqual((yield* tryWrong).code, "AUTH_FAILED")
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual((yield* tryWrong).code, "AUTH_FAILED")
      // two failures in the last minute: refused, until the first of them is a minute old
      const limited = yield* tryWrong
      assert.strictEqual(limited.code, "RATE_LIMITED", JSON.stringify(limited))
      assert.strictEqual(limited.retry_after_ms, 50_000)
      yield* TestClock.adjust("49 seconds")
      assert.strictEqual((yield* tryWrong).retry_after_ms, 1000)
      yield* TestClock.adjust("1 second")
      const connected = yield* wire.request({ command: "CONNECT", username: "alice", password: PASSWORD }, "CONNECTED")
      assert.strictEqual(connected.user, "alice")
    }))
})
