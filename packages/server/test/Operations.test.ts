/**
 * The server as an operator runs it, as a real process: the start-up line,
 * a session a person could type with `nc`, graceful shutdown on SIGTERM,
 * kill -9 in the middle of a burst and the restart after it, the idle
 * timeout, flood control, and a reader that stops reading.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber, Schedule } from "effect"
import * as Net from "node:net"
import { runServerCommand, spawnServer, testDb } from "./support/ServerProcess.ts"
import { eventually, sessions } from "./support/SqliteFile.ts"
import { type Frame, logIn, say, signUp, wholeTimeline, Wire, WireError } from "./support/Wire.ts"

const idOf = (frame: Frame) => frame.message_id as number

/** 4096 characters of 3 bytes each: a 12 KiB frame. */
const bulky = (tag: string) => `${tag} ${"€".repeat(4096 - tag.length - 1)}`

describe.concurrent("operations", () => {
  it.scopedLive(
    "announces where it listens and its database, serves a session as nc would; SIGTERM: BYE shutdown to all, exit 0 within 10 s, every session closed",
    () =>
      Effect.gen(function*() {
        const server = yield* spawnServer()
        assert.match(server.output(), new RegExp(`listening on 127\\.0\\.0\\.1:${server.port}\\b`))
        assert.include(server.output(), server.db)
        // three people: register, connect, chat, a DM, history, a receipt, one leaves
        const alice = yield* signUp(server.port, "alice")
        const bob = yield* signUp(server.port, "bob")
        const carol = yield* signUp(server.port, "carol")
        assert.sameMembers(carol.connected.online as Array<string>, ["alice", "bob", "carol"])
        const hello = yield* say(alice.wire, "hello everyone")
        for (const w of [bob.wire, carol.wire]) {
          assert.strictEqual((yield* w.pick((f) => f.type === "MESSAGE")).message_id, hello.message_id)
        }
        const dm = yield* say(bob.wire, "hi alice, just you", { to: "alice" })
        const got = yield* alice.wire.pick((f) => f.type === "MESSAGE")
        assert.deepStrictEqual([got.message_id, got.from, got.to], [dm.message_id, "bob", "alice"])
        yield* alice.wire.ask({ command: "READ", message_id: dm.message_id }, "OK")
        assert.deepStrictEqual(yield* bob.wire.pick((f) => f.type === "RECEIPT"), {
          type: "RECEIPT",
          message_id: dm.message_id,
          by: "alice"
        })
        const history = yield* carol.wire.ask({ command: "HISTORY" }, "HISTORY")
        assert.deepStrictEqual((history.messages as Array<Frame>).map((m) => m.text), ["hello everyone"])
        yield* carol.wire.ask({ command: "DISCONNECT" }, "BYE")
        assert.deepStrictEqual(
          yield* alice.wire.pick((f) => f.type === "PRESENCE" && f.status === "offline"),
          { type: "PRESENCE", user: "carol", status: "offline" }
        )

        // SIGTERM with alice on two connections, bob, and a guest
        const clients = [
          alice.wire,
          bob.wire,
          (yield* logIn(server.port, "alice")).wire,
          yield* Wire.connect(server.port, "guest")
        ]
        for (const w of clients) yield* w.sync()
        const open = yield* sessions(server.db)
        assert.strictEqual(open.length, 4)
        const started = Date.now()
        yield* server.signal("SIGTERM")
        for (const w of clients) {
          const bye = yield* w.pick((f) => f.type === "BYE")
          assert.deepStrictEqual(bye, { type: "BYE", reason: "shutdown" }, w.label)
          w.drainPending()
          yield* w.expectClosed()
        }
        const exit = yield* server.exited.pipe(Effect.timeout(Duration.seconds(10)))
        assert.deepStrictEqual(exit, { code: 0, signal: null }, server.output())
        assert.isBelow(Date.now() - started, 10_000)
        const closed = yield* sessions(server.db)
        assert.strictEqual(closed.length, 4)
        for (const row of closed) assert.isNotNull(row.disconnect_time, `session ${row.id}`)
      }),
    90_000
  )

  it.scopedLive(
    "flags fall back to PARLEY_* variables and win over them; idle timeout: BYE idle to silent connections, busy ones stay; --help; SIGINT",
    () =>
      Effect.gen(function*() {
        const help = yield* Effect.fork(runServerCommand(["--help"]))
        const db = yield* testDb
        // PARLEY_PORT names a port that is taken: the --port 0 flag must win
        const taken = yield* Effect.acquireRelease(
          Effect.async<Net.Server>((resume) => {
            const blocker = Net.createServer()
            blocker.listen(0, "127.0.0.1", () => resume(Effect.succeed(blocker)))
          }),
          (blocker) => Effect.sync(() => blocker.close())
        )
        const takenPort = (taken.address() as Net.AddressInfo).port
        const server = yield* spawnServer({
          db: null,
          env: { PARLEY_DB: db, PARLEY_PORT: String(takenPort), PARLEY_IDLE_TIMEOUT: "1", PARLEY_MSG_RATE: "0" }
        })
        assert.notStrictEqual(server.port, takenPort)
        assert.include(server.output(), db)

        // bob sends a frame every 250 ms for as long as the test runs; alice and a guest say nothing
        const busy = yield* signUp(server.port, "bob")
        yield* Effect.forkScoped(
          Effect.repeat(busy.wire.send({ command: "PING" }), Schedule.spaced(Duration.millis(250)))
        )
        const quiet = yield* signUp(server.port, "alice")
        const guest = yield* Wire.connect(server.port, "guest")
        assert.deepStrictEqual(yield* guest.expect("BYE", Duration.seconds(5)), { type: "BYE", reason: "idle" })
        yield* guest.expectClosed()
        assert.deepStrictEqual(yield* quiet.wire.pick((f) => f.type === "BYE", Duration.seconds(5)), {
          type: "BYE",
          reason: "idle"
        })
        quiet.wire.drainPending()
        yield* quiet.wire.expectClosed()
        assert.deepStrictEqual(
          yield* busy.wire.pick((f) => f.type === "PRESENCE" && f.status === "offline"),
          { type: "PRESENCE", user: "alice", status: "offline" }
        )
        // the idle close records the session's end (in the file named by PARLEY_DB)
        const rows = yield* eventually(sessions(db), (rows) =>
          rows.find((r) => r.id === quiet.connected.session_id)?.disconnect_time != null)
        assert.isNotNull(
          rows.find((r) =>
            r.id === quiet.connected.session_id
          )!.disconnect_time
        )
        // two more idle periods: bob is still there and was never told BYE
        const pongs = busy.wire.received.filter((f) => f.type === "PONG").length
        yield* eventually(Effect.sync(() => busy.wire.received.filter((f) => f.type === "PONG").length), (n) =>
          n >= pongs + 8)
        assert.isFalse(busy.wire.isClosed)
        assert.isUndefined(busy.wire.received.find((f) =>
          f.type === "BYE"
        ))

        // SIGINT shuts down like SIGTERM
        yield* server.signal("SIGINT")
        assert.deepStrictEqual(yield* busy.wire.pick((f) => f.type === "BYE"), { type: "BYE", reason: "shutdown" })
        assert.deepStrictEqual(yield* server.exited.pipe(Effect.timeout(Duration.seconds(10))), {
          code: 0,
          signal: null
        })

        const { code, output } = yield* Fiber.join(help)
        assert.strictEqual(code, 0, output)
        for (
          const flag of [
            "--host",
            "--port",
            "--tls-cert",
            "--tls-key",
            "--tls-port",
            "--db",
            "--msg-rate",
            "--msg-burst",
            "--idle-timeout"
          ]
        ) {
          assert.include(output, flag)
        }
        for (
          const env of [
            "PARLEY_HOST",
            "PARLEY_PORT",
            "PARLEY_TLS_CERT",
            "PARLEY_TLS_KEY",
            "PARLEY_TLS_PORT",
            "PARLEY_DB",
            "PARLEY_MSG_RATE",
            "PARLEY_MSG_BURST",
            "PARLEY_IDLE_TIMEOUT"
          ]
        ) {
          assert.include(output, env)
        }
      }),
    90_000
  )

  it.scopedLive(
    "a flag value that cannot be used is refused in one line naming it, exit 1, nothing started",
    () =>
      Effect.gen(function*() {
        const cases = [
          [["--port", "70000"], "parley-server: --port must be 0..65535, or off to serve TLS only (see --help)"],
          [["--msg-burst", "0"], "parley-server: --msg-burst must be 1 or more (see --help)"],
          [["--db", ":memory:"], "parley-server: --db must name a database file"],
          [["--db", "mysql://root@127.0.0.1/x"], "parley-server: --db mysql:// is not a database Parley can use"],
          // a database that cannot be opened: one line, the URL's password never shown
          [
            ["--db", "postgres://postgres:hunter2@127.0.0.1:1/x"],
            "parley-server: cannot use the database postgres://postgres:***@127.0.0.1:1/x: "
          ],
          [["--db", "/proc/no-such-dir/chat.db"], "parley-server: cannot use the database /proc/no-such-dir/chat.db: "]
        ] as const
        const runs = yield* Effect.forEach(cases, ([args]) => runServerCommand(args), { concurrency: "unbounded" })
        runs.forEach(({ code, output }, i) => {
          assert.strictEqual(code, 1, output)
          const lines = output.trim().split("\n")
          assert.strictEqual(lines.length, 1, output)
          assert.isTrue(lines[0]!.startsWith(cases[i]![1]), output)
          assert.notInclude(output, "listening")
          assert.notInclude(output, "hunter2")
        })
      }),
    60_000
  )

  it.scopedLive(
    "kill -9 during a burst: after a restart every ACKed message is in HISTORY exactly once and open sessions are closed",
    () =>
      Effect.gen(function*() {
        const db = yield* testDb
        const names = ["alice", "bob", "carol", "dave"]
        const perWriter = 600
        const text = (name: string, i: number) => `${name} #${i}`
        const burst = (name: string) =>
          Array.from({ length: perWriter }, (_, i) =>
            JSON.stringify({ command: "MSG", text: text(name, i), client_msg_id: `${name}-${i}` }) + "\n")
            .join("")
        const acked = new Map<string, Frame>() // client_msg_id -> ACK
        const delivered = new Set<number>() // message_ids some connection received as MESSAGE
        const killAt = names.length * perWriter / 4
        const crashed = yield* Effect.scoped(
          Effect.gen(function*() {
            const first = yield* spawnServer({ db })
            const writers = yield* Effect.forEach(names, (name) =>
              signUp(first.port, name))
            const ackCount = () =>
              writers.reduce((n, { wire }) => n + wire.received.filter((f) => f.type === "ACK").length, 0)
            // kill -9 the moment a quarter of the burst is acknowledged, with the rest in flight
            let killed = false
            for (const { wire } of writers) {
              wire.socket.on("data", () => {
                if (!killed && ackCount() >= killAt) {
                  killed = true
                  process.kill(first.pid, "SIGKILL")
                }
              })
            }
            // each writer keeps a window of 25 messages in flight until the server dies, so the kill
            // always lands with messages sent and not yet acknowledged
            const window = 25
            yield* Effect.forEach(names, (name, w) =>
              Effect.gen(function*() {
                const wire = writers[w]!.wire
                for (let from = 0; from < perWriter; from += window) {
                  yield* wire.write(
                    Array.from({ length: window }, (_, k) =>
                      JSON.stringify({
                        command: "MSG",
                        text: text(name, from + k),
                        client_msg_id: `${name}-${from + k}`
                      }) + "\n").join("")
                  )
                  for (let k = 0; k < window; k++) {
                    yield* wire.reply("ACK", Duration.seconds(20))
                  }
                }
              }).pipe(Effect.either), { concurrency: "unbounded", discard: true })
            const exit = yield* first.exited.pipe(Effect.timeout(Duration.seconds(30)))
            assert.strictEqual(exit.signal, "SIGKILL")
            for (const { wire } of writers) {
              yield* eventually(Effect.sync(() => wire.isClosed), (closed) => closed)
              for (const frame of wire.received) {
                if (frame.type === "ACK") acked.set(String(frame.client_msg_id), frame)
              }
            }
            for (const { wire } of writers) {
              for (const frame of wire.received) if (frame.type === "MESSAGE") delivered.add(idOf(frame))
            }
            return ackCount()
          })
        )
        assert.strictEqual(acked.size, crashed)
        assert.isAtLeast(crashed, killAt)
        assert.isBelow(crashed, names.length * perWriter, "the kill came in the middle of the burst")

        const second = yield* spawnServer({ db })
        // before anyone connects, the sessions the crash left open are closed
        const rows = yield* sessions(db)
        assert.strictEqual(rows.length, names.length)
        for (const row of rows) assert.isNotNull(row.disconnect_time, `session ${row.id}`)
        const { wire } = yield* logIn(second.port, "alice")
        const stored = yield* wholeTimeline(wire)
        const byId = new Map<number, Frame>()
        for (const m of stored) {
          assert.isFalse(byId.has(idOf(m)), `message ${idOf(m)} twice`)
          byId.set(idOf(m), m)
        }
        const texts = stored.map((m) => String(m.text))
        assert.strictEqual(new Set(texts).size, texts.length, "no text stored twice")
        for (const [key, ack] of acked) {
          const m = byId.get(idOf(ack))
          const [name, i] = key.split("-")
          assert.isDefined(m, `ACKed ${key} (message ${idOf(ack)}) is missing`)
          assert.strictEqual(m!.text, text(name!, Number(i)))
          assert.strictEqual(m!.timestamp, ack.timestamp)
          assert.strictEqual(m!.from, name)
        }
        // nobody was sent a message that was not committed
        for (const id of delivered) assert.isTrue(byId.has(id), `message ${id} was delivered but not stored`)
        // the writers retry everything with the same client_msg_ids: each message ends up stored once
        for (const name of names) {
          const { wire: retry } = name === "alice" ? { wire } : yield* logIn(second.port, name)
          retry.drainPending()
          yield* retry.write(burst(name))
          for (let i = 0; i < perWriter; i++) {
            const ack = yield* retry.reply("ACK")
            const before = acked.get(`${name}-${i}`)
            if (before !== undefined) assert.strictEqual(idOf(ack), idOf(before), `${name}-${i} keeps its message_id`)
          }
        }
        const final = yield* wholeTimeline(wire)
        assert.strictEqual(final.length, names.length * perWriter)
        assert.strictEqual(new Set(final.map((m) => m.text)).size, names.length * perWriter)
      }),
    90_000
  )

  it.scopedLive(
    "--msg-rate 5 --msg-burst 5: a flooding client is slowed, nothing dropped, no error, memory bounded",
    () =>
      Effect.gen(function*() {
        const server = yield* spawnServer({ flags: ["--msg-rate", "5", "--msg-burst", "5"] })
        const alice = yield* signUp(server.port, "alice")
        const bob = yield* signUp(server.port, "bob")
        yield* alice.wire.expect("PRESENCE")

        // 30 at once: 5 go through on the burst, the rest at 5 a second
        const count = 30
        const started = Date.now()
        yield* alice.wire.write(
          Array.from(
            { length: count },
            (_, i) => JSON.stringify({ command: "MSG", text: `f${i}`, client_msg_id: `f${i}` }) + "\n"
          ).join("")
        )
        // others are served meanwhile
        yield* bob.wire.ask({ command: "PING", id: "meanwhile" }, "PONG")
        const acks = yield* alice.wire.take(count, "ACK", Duration.seconds(10))
        const elapsed = Date.now() - started
        assert.deepStrictEqual(acks.map((a) => a.client_msg_id), Array.from({ length: count }, (_, i) => `f${i}`))
        assert.isAtLeast(elapsed, 3500, "25 messages past the burst take about 5 s at 5 a second")
        const seen = yield* bob.wire.take(count, "MESSAGE")
        assert.deepStrictEqual(seen.map((m) => m.text), Array.from({ length: count }, (_, i) => `f${i}`))
        const stored = yield* bob.wire.ask({ command: "HISTORY" }, "HISTORY")
        assert.deepStrictEqual(
          (stored.messages as Array<Frame>).map((m) => m.text),
          Array.from({ length: count }, (_, i) => `f${i}`)
        )

        // now far more than it may send: the server stops reading, so the bytes stay with the client
        const rssBefore = yield* server.rssKiB
        const frames = 8000 // 12 KiB each: ~96 MiB
        const flood = Buffer.from(
          Array.from({ length: frames }, (_, i) => JSON.stringify({ command: "MSG", text: bulky(`b${i}`) }) + "\n")
            .join("")
        )
        alice.wire.writeNoWait(flood)
        let rssMax = rssBefore
        for (let i = 0; i < 12; i++) {
          yield* Effect.sleep(250) // sampling the server's memory while the flood waits
          rssMax = Math.max(rssMax, yield* server.rssKiB)
          // bob is served all along
          yield* bob.wire.ask({ command: "PING", id: i }, "PONG")
        }
        const unread = alice.wire.socket.writableLength
        assert.isAbove(unread, flood.length / 2, `the server read ${flood.length - unread} of ${flood.length} bytes`)
        assert.isBelow(rssMax - rssBefore, 64 * 1024, `server RSS grew from ${rssBefore} KiB to ${rssMax} KiB`)
        assert.isBelow(rssMax, 512 * 1024, `server RSS reached ${rssMax} KiB`)
        // nothing it did read was dropped or refused: the stored ones are b0, b1, ... in order, and no ERROR came
        const more = yield* bob.wire.ask({ command: "HISTORY", after: idOf(acks[count - 1]!), limit: 100 }, "HISTORY")
        const texts = (more.messages as Array<Frame>).map((m) => String(m.text).split(" ")[0])
        assert.isAbove(texts.length, 0)
        assert.deepStrictEqual(texts, texts.map((_, i) => `b${i}`))
        assert.isUndefined(alice.wire.received.find((f) => f.type === "ERROR"))
        alice.wire.socket.destroy()
      }),
    60_000
  )

  it.scopedLive(
    "a reader that stops reading during a broadcast storm gets BYE slow_consumer; the others receive everything",
    () =>
      Effect.gen(function*() {
        const server = yield* spawnServer()
        const sender = yield* signUp(server.port, "alice")
        const readers = [(yield* signUp(server.port, "bob")).wire, (yield* signUp(server.port, "carol")).wire]
        const slow = yield* signUp(server.port, "dave")
        yield* sender.wire.take(3, "PRESENCE")
        yield* readers[0]!.take(2, "PRESENCE")
        yield* readers[1]!.expect("PRESENCE")
        slow.wire.pause()
        const dropped = () =>
          readers[0]!.received.some((f) => f.type === "PRESENCE" && f.user === "dave" && f.status === "offline")
        const acks: Array<number> = []
        const batch = 50
        // storm in pipelined batches of 12 KiB messages until dave is dropped (default limit: 4 MiB queued)
        while (!dropped()) {
          if (acks.length >= 5000) {
            return yield* new WireError({ message: `dave was never dropped after ${acks.length} messages` })
          }
          yield* sender.wire.write(
            Array.from({ length: batch }, (_, i) =>
              JSON.stringify({ command: "MSG", text: bulky(`s${acks.length + i}`) }) + "\n").join("")
          )
          for (let i = 0; i < batch; i++) {
            acks.push(idOf(yield* sender.wire.reply("ACK", Duration.seconds(20))))
          }
        }
        // the readers get every message, in order, each once
        const last = acks[acks.length - 1]!
        for (const reader of readers) {
          yield* reader.pick((f) =>
            f.type === "MESSAGE" && f.message_id === last, Duration.seconds(30))
          const got = reader.received.filter((f) => f.type === "MESSAGE").map(idOf)
          assert.deepStrictEqual(got, acks, reader.label)
        }
        // dave reads again only once the server is done with him (his session closed)
        yield* eventually(sessions(server.db), (rows) =>
          rows.find((r) =>
            r.id === slow.connected.session_id
          )?.disconnect_time != null, 20_000)
        // and finds a prefix of the storm, then BYE slow_consumer, then the end
        slow.wire.resume()
        const { before, frame } = yield* slow.wire.until("BYE", Duration.seconds(30))
        assert.deepStrictEqual(frame, { type: "BYE", reason: "slow_consumer" })
        const his = before.filter((f) =>
          f.type === "MESSAGE"
        ).map(idOf)
        assert.isBelow(his.length, acks.length)
        assert.deepStrictEqual(his, acks.slice(0, his.length))
        yield* slow.wire.expectClosed()
      }),
    90_000
  )
})
