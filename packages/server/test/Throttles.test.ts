/**
 * The login and registration throttles of protocol v1.1, over real TCP with
 * tight flags and several source addresses (127.0.0.1 and 127.0.0.2):
 * `--login-failures` counts per (username, address) across connections and
 * refuses without hashing; `--register-rate` counts successful registrations
 * per address; `--max-conns-per-ip` caps what one address holds open;
 * `--auth-timeout` closes connections that have not logged in. The sliding
 * windows' arithmetic over time is SlidingWindow.test.ts's.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Schedule } from "effect"
import * as Net from "node:net"
import { contractTimeout, startServer } from "./support/TestServer.ts"
import { PASSWORD, register, Wire } from "./support/Wire.ts"

const connectFrom = (port: number, address: string, username: string, password: string) =>
  Effect.scoped(Effect.gen(function*() {
    const wire = yield* Wire.connect(port, `${username}@${address}`, address)
    yield* wire.send({ command: "CONNECT", username, password })
    return yield* wire.pick((f) => f.type === "CONNECTED" || f.type === "ERROR")
  }))

const FLOOD = 60

describe.concurrent("throttles", () => {
  it.scopedLive(
    "--login-failures 3: the 4th try for a name from one address is RATE_LIMITED, across connections and even with the right password; other addresses and names are not",
    () =>
      Effect.gen(function*() {
        const server = yield* startServer({ loginFailures: 3 })
        yield* register(server.port, "alice")
        yield* register(server.port, "bob")
        // three wrong passwords, each on a new connection, the name's case varied
        for (const name of ["alice", "ALICE", "Alice"]) {
          assert.strictEqual((yield* connectFrom(server.port, "127.0.0.1", name, "wrong password")).code, "AUTH_FAILED")
        }
        const limited = yield* connectFrom(server.port, "127.0.0.1", "alice", PASSWORD)
        assert.strictEqual(limited.code, "RATE_LIMITED", JSON.stringify(limited))
        assert.isAbove(limited.retry_after_ms as number, 50_000)
        assert.isAtMost(limited.retry_after_ms as number, 60_000)
        // refused attempts do not count: still RATE_LIMITED, not longer
        const again = yield* connectFrom(server.port, "127.0.0.1", "alice", "wrong password")
        assert.strictEqual(again.code, "RATE_LIMITED")
        assert.isAtMost(again.retry_after_ms as number, limited.retry_after_ms as number)
        // the same user from another address, and another user from this one, are not affected
        assert.strictEqual((yield* connectFrom(server.port, "127.0.0.2", "alice", PASSWORD)).type, "CONNECTED")
        assert.strictEqual((yield* connectFrom(server.port, "127.0.0.1", "bob", PASSWORD)).type, "CONNECTED")
        // a success resets its (name, address): two failures from .2 then a success, then three more allowed
        for (let i = 0; i < 2; i++) {
          assert.strictEqual((yield* connectFrom(server.port, "127.0.0.2", "bob", "nope nope")).code, "AUTH_FAILED")
        }
        assert.strictEqual((yield* connectFrom(server.port, "127.0.0.2", "bob", PASSWORD)).type, "CONNECTED")
        for (let i = 0; i < 3; i++) {
          assert.strictEqual((yield* connectFrom(server.port, "127.0.0.2", "bob", "nope nope")).code, "AUTH_FAILED")
        }
        assert.strictEqual((yield* connectFrom(server.port, "127.0.0.2", "bob", PASSWORD)).code, "RATE_LIMITED")
      }),
    contractTimeout
  )

  it.scopedLive(
    "--register-rate 2: the 3rd account from one address is RATE_LIMITED; a taken name does not count; another address may register",
    () =>
      Effect.gen(function*() {
        const server = yield* startServer({ registerRate: 2 })
        const wire = yield* Wire.connect(server.port, "registrar", "127.0.0.1")
        const reg = (username: string) =>
          Effect.zipRight(
            wire.send({ command: "REGISTER", username, password: PASSWORD }),
            wire.pick((f) => f.type === "REGISTERED" || f.type === "ERROR")
          )
        assert.strictEqual((yield* reg("one")).type, "REGISTERED")
        assert.strictEqual((yield* reg("ONE")).code, "USERNAME_TAKEN")
        assert.strictEqual((yield* reg("two")).type, "REGISTERED")
        const refused = yield* reg("three")
        assert.strictEqual(refused.code, "RATE_LIMITED", JSON.stringify(refused))
        assert.isAbove(refused.retry_after_ms as number, 9 * 60_000)
        // from a new connection on the same address: still refused
        const other = yield* Wire.connect(server.port, "registrar 2", "127.0.0.1")
        yield* other.send({ command: "REGISTER", username: "three", password: PASSWORD })
        assert.strictEqual((yield* other.pick((f) => f.type === "ERROR")).code, "RATE_LIMITED")
        const elsewhere = yield* Wire.connect(server.port, "elsewhere", "127.0.0.2")
        yield* elsewhere.send({ command: "REGISTER", username: "three", password: PASSWORD })
        assert.strictEqual(
          (yield* elsewhere.pick((f) => f.type === "REGISTERED" || f.type === "ERROR")).type,
          "REGISTERED"
        )
      }),
    contractTimeout
  )

  it.scopedLive(
    "--max-conns-per-ip 3: the 4th connection from one address gets BYE too_many_connections instead of HELLO; others may connect; a freed slot can be used again",
    () =>
      Effect.gen(function*() {
        const server = yield* startServer({ maxConnsPerIp: 3 })
        const held = [
          yield* Wire.connect(server.port, "1", "127.0.0.1"),
          yield* Wire.connect(server.port, "2", "127.0.0.1"),
          yield* Wire.connect(server.port, "3", "127.0.0.1")
        ]
        const firstLine = yield* Effect.async<string>((resume) => {
          const socket = Net.connect({ host: "127.0.0.1", port: server.port, localAddress: "127.0.0.1" })
          let text = ""
          socket.on("data", (d) => (text += d.toString("utf8")))
          socket.on("error", () => {})
          socket.on("close", () => resume(Effect.succeed(text)))
        })
        assert.strictEqual(firstLine, "{\"type\":\"BYE\",\"reason\":\"too_many_connections\"}\n")
        const other = yield* Wire.connect(server.port, "other address", "127.0.0.2")
        assert.strictEqual(other.hello.type, "HELLO")
        // a slot freed by a close is there again once the server has seen the close
        held[0]!.socket.destroy()
        const fourth = yield* Wire.connect(server.port, "4", "127.0.0.1").pipe(
          Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 100 })
        )
        assert.strictEqual(fourth.hello.type, "HELLO")
        yield* held[1]!.ask({ command: "PING" }, "PONG")
      }),
    contractTimeout
  )

  it.scopedLive(
    "--auth-timeout 1: a guest that only PINGs gets BYE auth_timeout and is closed; a connection that logged in in time stays",
    () =>
      Effect.gen(function*() {
        const server = yield* startServer({ authTimeoutSeconds: 1 })
        yield* register(server.port, "alice")
        const member = yield* Wire.connect(server.port, "member")
        yield* member.ask({ command: "CONNECT", username: "alice", password: PASSWORD }, "CONNECTED")
        const guest = yield* Wire.connect(server.port, "guest")
        yield* guest.ask({ command: "PING" }, "PONG")
        // a failed login does not extend it either
        yield* guest.send({ command: "CONNECT", username: "alice", password: "wrong password" })
        yield* guest.expectError("AUTH_FAILED")
        const bye = yield* guest.pick((f) => f.type === "BYE", "5 seconds")
        assert.deepStrictEqual(bye, { type: "BYE", reason: "auth_timeout" })
        yield* guest.expectClosed()
        // the member, a full second past its own accept, is still served
        yield* member.ask({ command: "PING" }, "PONG")
        assert.isFalse(member.isClosed)
      }),
    contractTimeout
  )

  it.scopedLive(
    "password checks are shared fairly: a user from another address is served within a few hashes of arriving, not behind one address's backlog",
    () =>
      Effect.gen(function*() {
        const server = yield* startServer()
        yield* register(server.port, "legit")
        // the user's connection is open (and greeted) before the flood starts: its CONNECT then
        // goes out the moment the flood is under way, whatever the machine's load
        const legit = yield* Wire.connect(server.port, "legit", "127.0.0.2")
        // 60 logins of unknown names from 127.0.0.1, each on its own connection: 60 decoy hashes queued
        // (within the 64 one address may have waiting); the connections first, then every CONNECT at
        // once, so the whole flood is queued before the first hashes finish
        const flood = yield* Effect.forEach(
          Array.from({ length: FLOOD }, (_, i) => i),
          (i) => Wire.connect(server.port, `flood ${i}`, "127.0.0.1")
        )
        yield* Effect.forEach(flood, (w, i) =>
          w.send({ command: "CONNECT", username: `nobody${i}`, password: "guess guess" }))
        const answered = () =>
          flood.filter((w) => w.received.some((f) => f.type === "ERROR")).length
        // two answered: the hashing is under way and the rest of the flood is queued behind it
        yield* Effect.suspend(() => answered() >= 2 ? Effect.void : Effect.fail("not yet")).pipe(
          Effect.retry({ schedule: Schedule.spaced("5 millis"), times: 2000 })
        )
        const before = answered()
        yield* legit.ask({ command: "CONNECT", username: "legit", password: PASSWORD }, "CONNECTED", "30 seconds")
        const overtaken = answered() - before
        // Round robin over two addresses with two hashing slots: the user's hash starts after at most
        // one more flood hash. What else finishes meanwhile is the two slots working on while the
        // user's name is looked up before its hash and its session written after: a few hashes,
        // more on a loaded machine. A FIFO would put the user behind the whole backlog (~57).
        assert.isAtMost(
          overtaken,
          12,
          `${overtaken} of the flood's logins were answered before the user from 127.0.0.2`
        )
        assert.isAtMost(answered(), FLOOD / 2, "most of the flood was still queued when the user was served")
      }),
    contractTimeout
  )
})
