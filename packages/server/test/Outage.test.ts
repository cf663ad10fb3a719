/**
 * Storage outages, against the real server process: the SQLite file held by
 * another process's `BEGIN EXCLUSIVE`, and PostgreSQL cut off under load (the
 * server reaches it through a TCP proxy the test cuts and restores). Commands
 * that need the write get `UNAVAILABLE` with `retry_after_ms` within the
 * contract's 2 s and are never ACKed; everything else keeps working; no
 * connection is closed for it; the outage is logged once when it starts and
 * once when it ends; once the database is back, resending with the same
 * `client_msg_id` stores each message exactly once.
 */
import { assert, describe, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { freshPgDatabase, postgresAvailable } from "./support/Postgres.ts"
import { spawnServer, tempDb, tempDir } from "./support/ServerProcess.ts"
import { tcpProxy } from "./support/TcpProxy.ts"
import { logIn, signUp, wholeTimeline, type Wire } from "./support/Wire.ts"

const count = (text: string, pattern: RegExp) => text.split("\n").filter((line) => pattern.test(line)).length

/** Sends a MSG and returns the reply to it (its ACK or ERROR), by request id. */
const post = (wire: Wire, id: string, text: string, key: string) =>
  Effect.gen(function*() {
    yield* wire.send({ command: "MSG", id, text, client_msg_id: key })
    return yield* wire.pick((f) => f.id === id && (f.type === "ACK" || f.type === "ERROR"), "2 seconds")
  })

/** Resends until ACKed, waiting what UNAVAILABLE says between tries (bounded). */
const resendUntilAcked = (wire: Wire, id: string, text: string, key: string) =>
  Effect.gen(function*() {
    for (let attempt = 0; attempt < 40; attempt++) {
      const reply = yield* post(wire, `${id}.${attempt}`, text, key)
      if (reply.type === "ACK") return reply
      assert.strictEqual(reply.code, "UNAVAILABLE", JSON.stringify(reply))
      yield* Effect.sleep(reply.retry_after_ms as number)
    }
    return assert.fail(`${key} was never acknowledged`)
  })

/** Whether a small tmpfs can be mounted here (root, outside a restricted container): the full-disk test needs one. */
const canMount = (() => {
  const dir = Fs.mkdtempSync("/tmp/parley-mount-probe-")
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir], { stdio: "ignore" })
    execFileSync("umount", [dir], { stdio: "ignore" })
    return true
  } catch {
    process.stderr.write("cannot mount a tmpfs here (not root?): skipping the full-disk test\n")
    return false
  } finally {
    Fs.rmSync(dir, { recursive: true, force: true })
  }
})()

/** A 4 MiB file system of its own, unmounted with the scope. */
const smallDisk = Effect.acquireRelease(
  Effect.map(tempDir, (dir) => {
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", dir])
    return dir
  }),
  (dir) => Effect.sync(() => execFileSync("umount", ["-l", dir]))
)

describe.concurrent("storage outages", () => {
  it.scopedLive.skipIf(!canMount)(
    "a full disk: UNAVAILABLE (never INTERNAL), SIGTERM still exits 0 keeping every ACK, and a restart with space serves them all",
    () =>
      Effect.gen(function*() {
        const dir = yield* smallDisk
        const db = Path.join(dir, "chat.db")
        const first = yield* spawnServer({ db })
        const { wire: alice } = yield* signUp(first.port, "alice")
        assert.strictEqual((yield* post(alice, "before", "before the disk filled", "k-before")).type, "ACK")
        // leave about 200 KB: a few of the 4 KB messages below fit, then the disk is full
        const free = Number(
          execFileSync("df", ["-k", "--output=avail", dir], { encoding: "utf8" }).trim().split("\n")[1]
        )
        Fs.writeFileSync(Path.join(dir, "filler"), Buffer.alloc((free - 200) * 1024))
        const text = (i: number) => `${i} ${"x".repeat(4000)}`
        const acked: Array<number> = []
        const refused: Array<number> = []
        for (let i = 0; i < 80; i++) {
          const reply = yield* post(alice, `m${i}`, text(i), `k${i}`)
          if (reply.type === "ACK") acked.push(i)
          else {
            assert.strictEqual(reply.code, "UNAVAILABLE", JSON.stringify(reply))
            refused.push(i)
          }
        }
        assert.isAtLeast(refused.length, 1, "the disk never filled")
        yield* alice.ask({ command: "PING" }, "PONG")
        yield* first.signal("SIGTERM")
        const exited = yield* first.exited
        assert.deepStrictEqual(exited, { code: 0, signal: null }, first.output())
        assert.notInclude(first.output(), "INTERNAL")

        Fs.rmSync(Path.join(dir, "filler"))
        const second = yield* spawnServer({ db })
        const { wire: again } = yield* signUp(second.port, "bob")
        const kept = (yield* wholeTimeline(again)).map((m) => m.text as string)
        assert.deepStrictEqual(kept, ["before the disk filled", ...acked.map(text)])
        const { wire: alice2 } = yield* logIn(second.port, "alice")
        for (const i of refused) yield* resendUntilAcked(alice2, `r${i}`, text(i), `k${i}`)
        const all = (yield* wholeTimeline(again)).map((m) => m.text as string)
        assert.strictEqual(all.length, 1 + 80)
        assert.strictEqual(new Set(all).size, all.length)
      }),
    { timeout: 90_000 }
  )

  it.scopedLive(
    "SQLite held by another process's BEGIN EXCLUSIVE: UNAVAILABLE at once, reads and PINGs go on, then every message stored once",
    () =>
      Effect.gen(function*() {
        const db = yield* tempDb
        const server = yield* spawnServer({ db })
        const { wire: alice } = yield* signUp(server.port, "alice")
        const { wire: bob } = yield* signUp(server.port, "bob")
        yield* alice.expect("PRESENCE")
        assert.strictEqual((yield* post(alice, "before", "before the lock", "k0")).type, "ACK")
        yield* bob.expect("MESSAGE")

        const other = new Database(db)
        yield* Effect.addFinalizer(() => Effect.sync(() => other.close()))
        other.exec("BEGIN EXCLUSIVE")
        const started = Date.now()
        const refused = yield* post(alice, "locked", "while locked", "k1")
        assert.isBelow(Date.now() - started, 2000, "answered within the contract's 2 s")
        assert.strictEqual(refused.code, "UNAVAILABLE", JSON.stringify(refused))
        assert.isAbove(refused.retry_after_ms as number, 0)
        // a burst from another connection: every one refused, none ACKed, nobody closed
        for (let i = 0; i < 30; i++) {
          assert.strictEqual((yield* post(bob, `b${i}`, `burst ${i}`, `b${i}`)).code, "UNAVAILABLE")
        }
        // what needs no write goes on
        yield* alice.ask({ command: "PING" }, "PONG")
        const during = yield* wholeTimeline(bob)
        assert.deepStrictEqual(
          during.map((m) => m.text),
          ["before the lock"]
        )
        assert.isFalse(alice.isClosed || bob.isClosed)
        other.exec("ROLLBACK")

        yield* resendUntilAcked(alice, "again", "while locked", "k1")
        for (let i = 0; i < 30; i++) yield* resendUntilAcked(bob, `b${i}again`, `burst ${i}`, `b${i}`)
        const texts = (yield* wholeTimeline(alice)).map((m) => m.text)
        assert.deepStrictEqual(texts, [
          "before the lock",
          "while locked",
          ...Array.from({ length: 30 }, (_, i) => `burst ${i}`)
        ])
        assert.strictEqual(count(server.output(), /storage unavailable/), 1, server.output())
        assert.strictEqual(count(server.output(), /storage available again/), 1, server.output())
        assert.notInclude(server.output(), "INTERNAL")
      }),
    { timeout: 60_000 }
  )

  it.scopedLive.skipIf(!postgresAvailable)(
    "PostgreSQL cut off under load and restored: ACK or UNAVAILABLE, never INTERNAL; after it is back each message is stored exactly once",
    () =>
      Effect.gen(function*() {
        const url = new URL(yield* freshPgDatabase)
        const proxy = yield* tcpProxy(url.hostname, Number(url.port || 5432))
        url.host = `127.0.0.1:${proxy.port}`
        const server = yield* spawnServer({ db: url.toString() })
        const { wire: alice } = yield* signUp(server.port, "alice")
        const { wire: bob } = yield* signUp(server.port, "bob")
        yield* alice.expect("PRESENCE")

        const total = 150
        const text = (i: number) => `load ${i}`
        const refused: Array<number> = []
        const codes = new Set<string>()
        for (let i = 0; i < total; i++) {
          if (i === 50) yield* proxy.cut
          if (i === 100) yield* proxy.restore
          const reply = yield* post(alice, `m${i}`, text(i), `k${i}`)
          if (reply.type === "ERROR") {
            codes.add(reply.code as string)
            refused.push(i)
          }
          if (i % 10 === 0) yield* alice.ask({ command: "PING" }, "PONG")
        }
        assert.deepStrictEqual([...codes], ["UNAVAILABLE"])
        assert.isAtLeast(refused.length, 1, "the cut refused something")
        assert.isFalse(alice.isClosed || bob.isClosed, "no connection closed for the outage")
        for (const i of refused) yield* resendUntilAcked(alice, `r${i}`, text(i), `k${i}`)

        // each exactly once (the resent ones later, in the order they were finally committed)
        const stored = (yield* wholeTimeline(bob)).map((m) => m.text as string)
        assert.deepStrictEqual([...stored].sort(), Array.from({ length: total }, (_, i) => text(i)).sort())
        // bob heard each message once, live
        const heard = bob.received.filter((f) => f.type === "MESSAGE").map((f) => f.text)
        assert.deepStrictEqual([...heard].sort(), [...stored].sort())
        assert.strictEqual(count(server.output(), /storage unavailable/), 1, server.output())
        assert.strictEqual(count(server.output(), /storage available again/), 1, server.output())
      }),
    { timeout: 90_000 }
  )
})
