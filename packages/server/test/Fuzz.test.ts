/**
 * The wire under fire: 100,000 generated lines (FuzzFrames.ts, a fixed seed)
 * sent to the real server process over TCP on eight connections at once,
 * members and guests, pipelined a window at a time. Every line owed a reply
 * must get exactly one, of a kind the contract allows there, echoing its id;
 * lines are matched to replies in order, and a barrier PING after the last
 * line must be answered right after the last reply owed, so a missing or an
 * extra reply cannot go unseen. Afterwards the process must still be running,
 * have logged no error, and serve a fresh client. The abuse limits are off
 * (ServerProcess's defaults), but for one small test of RATE_LIMITED.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Option } from "effect"
import * as Fs from "node:fs"
import { type Accounts, type Case, deliberate, generateCase, Rng, type Tally, walk } from "./support/FuzzFrames.ts"
import { FuzzPeer } from "./support/FuzzPeer.ts"
import { spawnServer } from "./support/ServerProcess.ts"
import { PASSWORD, signUp, Wire } from "./support/Wire.ts"

const SEED = 20_261_207
const LINES = 100_000
const CONNECTIONS = 8
/** Lines written at once; two batches are in flight at most. */
const BATCH = 250
/** Where connection 1 logs in: early, as its failed logins would soon lock it out (RATE_LIMITED). */
const GUEST_LOGIN_AT = 50

const accounts: Accounts = {
  names: ["fz_alice", "fz_bob", "fz_carol", "fz_dave", "fz_erin", "fz_frank"],
  password: PASSWORD
}

interface Plan {
  readonly label: string
  /** The lines, made as they are sent (making them all first would double the time). */
  readonly lines: Generator<Case>
  /** The plan ends with DISCONNECT (and lines after it, which nobody answers). */
  readonly disconnects: boolean
}

/**
 * Connection `k`'s lines. Even connections log in first; connection 1 logs
 * in a little way in (before its failed logins lock it out); the last one
 * ends with a DISCONNECT followed by lines that must go unanswered; the
 * others end with a barrier PING.
 */
const plan = (k: number, count: number): Plan => {
  const disconnects = k === CONNECTIONS - 1
  const login = (serial: number) =>
    deliberate({
      command: "CONNECT",
      username: accounts.names[k % accounts.names.length],
      password: PASSWORD,
      id: `login-${serial}`
    })
  function* lines(): Generator<Case> {
    const rng = new Rng(SEED + k)
    if (k % 2 === 0) yield login(0)
    for (let i = 1; i <= count; i++) {
      if (k === 1 && i === GUEST_LOGIN_AT) yield login(i)
      yield generateCase(rng, accounts, i)
    }
    if (!disconnects) return yield deliberate({ command: "PING", id: `barrier-${k}` })
    yield deliberate({ command: "DISCONNECT", id: "bye-now" })
    for (let i = 0; i < 100; i++) yield generateCase(rng, accounts, count + i + 1)
  }
  return { label: k % 2 === 0 ? `member-${k}` : `guest-${k}`, lines: lines(), disconnects }
}

/** utime + stime of a process so far, from /proc (clock ticks of 10 ms). */
const cpuSeconds = (pid: number): number => {
  const stat = Fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(fields[11]) + Number(fields[12])) / 100
}

const encode = (cases: ReadonlyArray<Case>): Buffer =>
  Buffer.concat(cases.flatMap((c) => [c.bytes, Buffer.from(c.terminator)]))

/** The next `n` lines of a plan (fewer at its end). */
const take = (lines: Generator<Case>, n: number): Array<Case> => {
  const out: Array<Case> = []
  while (out.length < n) {
    const next = lines.next()
    if (next.done === true) break
    out.push(next.value)
  }
  return out
}

/** Sends a plan's lines a batch at a time, keeping two batches in flight, and waits for every reply owed. */
const exchange = (port: number, p: Plan) =>
  Effect.gen(function*() {
    const peer = yield* FuzzPeer.connect(port, p.label)
    const sent: Array<Case> = []
    let owed = 0
    for (let batch = take(p.lines, BATCH); batch.length > 0 && !peer.closed; batch = take(p.lines, BATCH)) {
      yield* peer.write(encode(batch))
      // the previous batch's replies: then this one and the next are in flight
      yield* peer.awaitReplies(owed)
      for (const c of batch) if (c.verdict.kind !== "none") owed++
      sent.push(...batch)
    }
    if (p.disconnects) yield* peer.awaitClose()
    else yield* peer.awaitReplies(owed)
    const logins = peer.replies.filter((r) => r.type === "CONNECTED" && String(r.id).startsWith("login-")).length
    return { sent: sent.length, tally: walk(sent, peer.replies), logins }
  })

const describeTally = (label: string, t: Tally) =>
  `${label}: ${t.matched}/${t.owed} replies; first problems:\n${
    t.problems.map((p) => `  line ${p.line}: ${p.why}\n    sent ${p.sent}\n    got  ${p.reply}`).join("\n")
  }`

/** A new client after the storm: sign up, send, read it back. */
const freshClientWorks = (port: number) =>
  Effect.gen(function*() {
    const { wire } = yield* signUp(port, "fz_after")
    const ack = yield* wire.ask({ command: "MSG", text: "still here", id: 1 }, "ACK")
    const page = yield* wire.ask({ command: "HISTORY", limit: 1 }, "HISTORY")
    const last = (page.messages as Array<{ readonly message_id: number; readonly text: string }>)[0]
    assert.deepStrictEqual([last?.message_id, last?.text], [ack.message_id, "still here"])
    yield* wire.request({ command: "PING", id: "end" }, "PONG")
  })

describe("wire fuzz", () => {
  it.scopedLive(
    `${
      LINES.toLocaleString("en-US")
    } generated lines on ${CONNECTIONS} connections: one typed reply each, the server lives on`,
    () =>
      Effect.gen(function*() {
        const server = yield* spawnServer({ flags: ["--log-level", "warning"] })
        yield* Effect.scoped(Effect.forEach(accounts.names, (name) =>
          Effect.flatMap(Wire.connect(server.port, "setup"), (w) =>
            w.request({ command: "REGISTER", username: name, password: PASSWORD }, "REGISTERED"))))
        const plans = Array.from({ length: CONNECTIONS }, (_, k) =>
          plan(k, LINES / CONNECTIONS))
        const started = Date.now()
        const ownCpu = process.cpuUsage()
        const results = yield* Effect.forEach(plans, (p) => exchange(server.port, p), { concurrency: "unbounded" })
        const seconds = (Date.now() - started) / 1000
        const counts: Record<string, number> = {}
        for (const { tally } of results) {
          for (const [key, n] of Object.entries(tally.counts)) counts[key] = (counts[key] ?? 0) + n
        }
        const sent = results.reduce((n, r) => n + r.sent, 0)
        const cpu = cpuSeconds(server.pid)
        const own = process.cpuUsage(ownCpu)
        console.info(
          `wire fuzz: ${sent} lines in ${seconds.toFixed(1)} s; CPU: server ${cpu} s, test ${
            ((own.user + own.system) / 1e6).toFixed(1)
          } s; replies ${JSON.stringify(counts)}`
        )
        for (const [i, { tally }] of results.entries()) {
          assert.deepStrictEqual(tally.problems, [], describeTally(plans[i]!.label, tally))
          assert.strictEqual(tally.matched, tally.owed, describeTally(plans[i]!.label, tally))
        }
        // not vacuous: every kind of answer the lines were built to draw came back
        for (
          const key of [
            "PONG",
            "ACK",
            "HISTORY",
            "OK",
            "USERS",
            "CONNECTED",
            "BYE",
            "ERROR:INVALID_JSON",
            "ERROR:INVALID_COMMAND",
            "ERROR:UNKNOWN_COMMAND",
            "ERROR:FRAME_TOO_LARGE",
            "ERROR:NOT_AUTHENTICATED",
            "ERROR:ALREADY_AUTHENTICATED",
            "ERROR:AUTH_FAILED",
            "ERROR:USERNAME_TAKEN",
            "ERROR:UNKNOWN_USER",
            "ERROR:NOT_FOUND"
          ]
        ) {
          assert.isAbove(counts[key] ?? 0, 0, `no ${key} among the replies`)
        }
        // (a fuzzed CONNECT may succeed too, where a mutation made its password the right one)
        assert.strictEqual(
          results.reduce((n, r) => n + r.logins, 0),
          CONNECTIONS / 2 + 1,
          "every deliberate login succeeds"
        )
        const stillRunning = yield* Effect.timeoutOption(server.exited, Duration.millis(50))
        assert.isTrue(Option.isNone(stillRunning), `the server exited: ${JSON.stringify(stillRunning)}`)
        yield* freshClientWorks(server.port)
        assert.notMatch(server.output(), /level=(ERROR|FATAL)/, server.output().slice(-3000))
      }),
    120_000
  )

  it.scopedLive(
    "with the login and registration throttles on, fuzzed lines and throttled requests get RATE_LIMITED with retry_after_ms",
    () =>
      Effect.gen(function*() {
        const server = yield* spawnServer({
          flags: ["--log-level", "warning", "--login-failures", "2", "--register-rate", "1"]
        })
        const rng = new Rng(SEED - 1)
        const lines: Array<Case> = [
          deliberate({ command: "REGISTER", username: "fz_first", password: PASSWORD, id: "r1" }),
          deliberate({ command: "REGISTER", username: "fz_second", password: PASSWORD, id: "r2" })
        ]
        for (let i = 0; i < 3; i++) {
          lines.push(deliberate({ command: "CONNECT", username: "fz_first", password: "wrong password", id: `c${i}` }))
        }
        for (let i = 0; i < 300; i++) lines.push(generateCase(rng, { names: ["fz_first"], password: PASSWORD }, i))
        lines.push(deliberate({ command: "PING", id: "barrier" }))
        const peer = yield* FuzzPeer.connect(server.port, "throttled")
        yield* peer.write(encode(lines))
        const owed = lines.filter((c) => c.verdict.kind !== "none").length
        yield* peer.awaitReplies(owed)
        const tally = walk(lines, peer.replies)
        assert.deepStrictEqual(tally.problems, [], describeTally("throttled", tally))
        const byId = (id: string) => peer.replies.find((r) => r.id === id)
        assert.deepStrictEqual([
          byId("r1")?.type,
          byId("r2")?.code,
          byId("c0")?.code,
          byId("c1")?.code,
          byId("c2")?.code
        ], [
          "REGISTERED",
          "RATE_LIMITED",
          "AUTH_FAILED",
          "AUTH_FAILED",
          "RATE_LIMITED"
        ])
        const limited = peer.replies.filter((r) => r.code === "RATE_LIMITED")
        for (const r of limited) assert.isAbove(r.retry_after_ms as number, 0, JSON.stringify(r))
      }),
    60_000
  )
})
