/**
 * soak (`pnpm soak`): Parley under churn for a bounded time, watched for
 * leaks. Churn lanes loop connect → login (by token, now and then by
 * password, now and then a fresh account) → a few MSGs → maybe HISTORY →
 * DISCONNECT or a bare close, beside a few long-lived clients that send and
 * receive all the time. After a warm-up and again at the end, the churn is
 * paused until the server's descriptors settle and its RSS is watched for a
 * while (the lowest reading counts, as in the idle scenario: V8 gives
 * garbage back on its own schedule, seconds after a burst); the run
 * fails when any of RSS, the V8 heap in use, or open descriptors grew past
 * the allowed share. Each reading starts with a full garbage collection,
 * asked of the server through its inspector (started with
 * `--inspect=127.0.0.1:0`, loopback only), so that the heap figure is what
 * is alive, not what V8 has not yet collected; the heap is then read from
 * the server's own metrics endpoint (`--metrics-port 0`). Traffic goes to
 * 127.0.0.1 only; every loop is bounded in time and in count.
 */
import { Console, Data, Effect } from "effect"
import { readdirSync } from "node:fs"
import { loadavg } from "node:os"
import { Client, type ClientHooks, type Endpoint, type Frame, nowUs, sleep } from "./Client.ts"
import { collectGarbage, inspectorUrl } from "./Inspector.ts"
import { readRss } from "./ProcStats.ts"
import { acquireServer, type ManagedServer } from "./ServerProcess.ts"

export interface SoakOptions {
  readonly minutes: number
  /** Churn lanes: connections being opened and closed at any moment. */
  readonly churn: number
  /** Long-lived clients sending and receiving throughout. */
  readonly steady: number
  readonly warmupSeconds: number
  /** Seconds RSS is watched at each reading (the lowest counts). */
  readonly settleSeconds: number
  /** Growth of RSS or of open descriptors, in percent, past which the run fails. */
  readonly maxGrowthPercent: number
  readonly progressSeconds: number
  readonly parleyArgs: ReadonlyArray<string>
}

export class SoakFailed extends Data.TaggedError("SoakFailed")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

/** One quiet reading of the server: lowest RSS and heap in use over the watch, and open descriptors once settled. */
export interface Reading {
  readonly rssBytes: number
  readonly heapBytes: number
  readonly fds: number
}

/** The share by which `end` exceeds `start` (negative: it shrank). */
export const growth = (start: number, end: number): number => (start > 0 ? (end - start) / start : 0)

/** What failed, if anything: RSS, heap in use or descriptors grown past `maxGrowth` (a share, 0.1 for 10 %). */
export const judgeGrowth = (start: Reading, end: Reading, maxGrowth: number): Array<string> => {
  const limit = `(limit ${(maxGrowth * 100).toFixed(0)} %)`
  const checks = [
    ["RSS", growth(start.rssBytes, end.rssBytes)],
    ["heap in use", growth(start.heapBytes, end.heapBytes)],
    ["open descriptors", growth(start.fds, end.fds)]
  ] as const
  return checks.filter(([, g]) => g > maxGrowth).map(([what, g]) => `${what} grew ${(g * 100).toFixed(1)} % ${limit}`)
}

const METRICS_LINE = /Parley metrics on (http:\/\/\S+\/metrics)/

/** Where to read the server's figures and where to ask it for a full GC, from the lines it printed at start. */
interface Probes {
  readonly metrics: string
  readonly inspector: string
}

const probes = async (server: ManagedServer): Promise<Probes> => {
  for (let waited = 0; waited < 10_000; waited += 50) {
    const metrics = server.log.map((line) => METRICS_LINE.exec(line)?.[1]).find((url) => url !== undefined)
    const inspector = inspectorUrl(server.log)
    if (metrics !== undefined && inspector !== undefined) return { metrics, inspector }
    await sleep(50)
  }
  throw new SoakFailed({
    reason: "the server did not print its metrics and inspector addresses within 10 s of listening"
  })
}

/** Reads one gauge (a line `name value`) from the Prometheus text of `url`. */
export const gauge = (text: string, name: string): number => {
  const m = new RegExp(`^${name} ([0-9.e+]+)$`, "m").exec(text)
  if (m === null) throw new SoakFailed({ reason: `the metrics endpoint has no ${name}` })
  return Number(m[1])
}

const readHeap = async (url: string): Promise<number> =>
  gauge(await (await fetch(url, { signal: AbortSignal.timeout(5_000) })).text(), "nodejs_heap_size_used_bytes")

interface Counters {
  cycles: number
  registered: number
  passwordLogins: number
  tokenLogins: number
  sent: number
  acked: number
  delivered: number
  readonly errors: Record<string, number>
}

const bump = (errors: Record<string, number>, key: string) => {
  errors[key] = (errors[key] ?? 0) + 1
}

const openFds = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * Waits until the server's descriptor count holds still for a second (at
 * most 15 s: closed sockets are released once both sides are done), has it
 * collect its garbage, then watches RSS and the heap in use for `watchMs`
 * and keeps the lowest readings.
 */
const settledReading = async (pid: number, probe: Probes, watchMs: number): Promise<Reading> => {
  let fds = openFds(pid)
  for (let steady = 0, waited = 0; steady < 4 && waited < 15_000; waited += 250) {
    await sleep(250)
    const now = openFds(pid)
    steady = now === fds ? steady + 1 : 0
    fds = now
  }
  await collectGarbage(probe.inspector)
  let rssBytes = readRss(pid)
  let heapBytes = await readHeap(probe.metrics)
  for (let t = 0; t < watchMs; t += 250) {
    await sleep(250)
    rssBytes = Math.min(rssBytes, readRss(pid))
    heapBytes = Math.min(heapBytes, await readHeap(probe.metrics))
  }
  return { rssBytes, heapBytes, fds: openFds(pid) }
}

const hooksFor = (counters: Counters): ClientHooks => ({
  onMessage: () => {
    counters.delivered++
  },
  onAck: () => {},
  onError: (_client, frame) => bump(counters.errors, String(frame.code)),
  onClose: () => {}
})

const REQUEST_MS = 10_000
const PASSWORD = "soak-password-1234"

/** A reply that is not the one wanted, counted under its code (or TIMEOUT / CLOSED). */
const expect = (reply: Frame, type: string, counters: Counters): boolean => {
  if (reply.type === type) return true
  bump(counters.errors, reply.type === "ERROR" ? String(reply.code) : reply.type)
  return false
}

/** Registers each name and logs it in once by password; returns its token. */
const setupAccounts = async (endpoint: Endpoint, names: ReadonlyArray<string>, counters: Counters) => {
  const tokens = new Map<string, string>()
  for (const name of names) {
    const client = new Client(-1, name, "setup", hooksFor(counters))
    try {
      await client.open(endpoint, REQUEST_MS)
      expect(
        await client.request({ command: "REGISTER", username: name, password: PASSWORD }, REQUEST_MS),
        "REGISTERED",
        counters
      )
      const reply = await client.login({ password: PASSWORD })
      if (expect(reply, "CONNECTED", counters)) tokens.set(name, String(reply.token))
    } finally {
      await client.close()
    }
  }
  if (tokens.size < names.length) {
    throw new SoakFailed({
      reason: `only ${tokens.size} of ${names.length} accounts could log in: ${JSON.stringify(counters.errors)}`
    })
  }
  return tokens
}

/** A long-lived client: logs in, then sends a MSG every `everyMs` until `stop()`. */
const steadyClient = async (
  endpoint: Endpoint,
  name: string,
  token: string,
  counters: Counters,
  deadlineUs: number
) => {
  const client = new Client(-1, name, "steady", hooksFor(counters))
  await client.open(endpoint, REQUEST_MS)
  if (!expect(await client.login({ token }), "CONNECTED", counters)) {
    throw new SoakFailed({ reason: `steady client ${name} could not log in` })
  }
  let running = true
  const loop = (async () => {
    for (let i = 0; running && nowUs() < deadlineUs && i < 10_000_000; i++) {
      counters.sent++
      if (expect(await client.request({ command: "MSG", text: `steady ${name} ${i}` }, REQUEST_MS), "ACK", counters)) {
        counters.acked++
      }
      await sleep(200)
    }
  })()
  return async () => {
    running = false
    await loop
    await client.close()
  }
}

interface ChurnContext {
  readonly endpoint: Endpoint
  readonly names: ReadonlyArray<string>
  readonly tokens: ReadonlyMap<string, string>
  readonly prefix: string
  readonly counters: Counters
  readonly hooks: ClientHooks
}

/**
 * One churn cycle: connect, log in (every 25th cycle a new account, every
 * 20th by password, else by token), three MSGs, every 4th a HISTORY, then
 * DISCONNECT (every 2nd) or just close.
 */
const cycle = async (ctx: ChurnContext, lane: number, i: number): Promise<void> => {
  const { counters } = ctx
  const fresh = i % 25 === 24
  const name = fresh ? `${ctx.prefix}_${lane}_${i}` : ctx.names[(lane * 7 + i) % ctx.names.length]!
  const client = new Client(-1, name, "churn", ctx.hooks)
  try {
    await client.open(ctx.endpoint, REQUEST_MS)
    if (fresh) {
      if (
        !expect(
          await client.request({ command: "REGISTER", username: name, password: PASSWORD }, REQUEST_MS),
          "REGISTERED",
          counters
        )
      ) return
      counters.registered++
    }
    const byPassword = fresh || i % 20 === 7
    if (
      !expect(
        await client.login(byPassword ? { password: PASSWORD } : { token: ctx.tokens.get(name)! }),
        "CONNECTED",
        counters
      )
    ) return
    if (byPassword) counters.passwordLogins++
    else counters.tokenLogins++
    for (let m = 0; m < 3; m++) {
      counters.sent++
      if (
        expect(await client.request({ command: "MSG", text: `churn ${lane} ${i} ${m}` }, REQUEST_MS), "ACK", counters)
      ) counters.acked++
    }
    if (i % 4 === 0) expect(await client.request({ command: "HISTORY", limit: 20 }, REQUEST_MS), "HISTORY", counters)
    if (i % 2 === 0) expect(await client.request({ command: "DISCONNECT" }, REQUEST_MS), "BYE", counters)
    counters.cycles++
  } catch (e) {
    bump(counters.errors, (e as Error).message)
  } finally {
    await client.close()
  }
}

/** The churn lanes, which can be paused between cycles (to read the server while it is quiet) and stopped. */
class Churn {
  private paused = false
  private parked = 0
  private active = 0
  private wakers: Array<() => void> = []
  private stopped = false

  constructor(
    private readonly ctx: ChurnContext,
    private readonly deadlineUs: number,
    private readonly maxCycles: number
  ) {}

  start(lanes: number): Promise<void> {
    return Promise.all(Array.from({ length: lanes }, (_, lane) => this.lane(lane))).then(() => {})
  }

  private async lane(lane: number): Promise<void> {
    this.active++
    try {
      for (let i = 0; !this.stopped && nowUs() < this.deadlineUs && i < this.maxCycles; i++) {
        if (this.paused) {
          this.parked++
          await new Promise<void>((resolve) => this.wakers.push(resolve))
          this.parked--
          if (this.stopped) break
        }
        await cycle(this.ctx, lane, i)
      }
    } finally {
      this.active--
    }
  }

  /** Resolves once every lane is between cycles (or done); at most 30 s. */
  async pause(): Promise<void> {
    this.paused = true
    for (let waited = 0; this.parked < this.active && waited < 30_000; waited += 50) await sleep(50)
  }

  resume(): void {
    this.paused = false
    const wakers = this.wakers
    this.wakers = []
    for (const w of wakers) w()
  }

  stop(): void {
    this.stopped = true
    this.resume()
  }
}

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`

const progressLine = (startUs: number, counters: Counters, pid: number): string => {
  const secs = (nowUs() - startUs) / 1e6
  const errors = Object.entries(counters.errors).map(([k, n]) => `${k}×${n}`).join(" ") || "none"
  return `[soak ${secs.toFixed(0).padStart(4)}s] cycles ${counters.cycles} (${
    (counters.cycles / secs).toFixed(1)
  }/s), ` +
    `logins ${counters.tokenLogins} token + ${counters.passwordLogins} password, ${counters.registered} new accounts, ` +
    `MSG ${counters.acked}/${counters.sent} acked, ${counters.delivered} delivered to steady clients; ` +
    `server RSS ${alive(pid) ? mib(readRss(pid)) : "gone"}, fds ${alive(pid) ? openFds(pid) : "?"}; errors: ${errors}`
}

export interface SoakResult {
  readonly start: Reading
  readonly end: Reading
  readonly counters: Counters
  readonly problems: ReadonlyArray<string>
}

/** Churn beside steady traffic for the whole run, a reading after the warm-up and one at the end. */
const soak = async (server: ManagedServer, opts: SoakOptions): Promise<SoakResult> => {
  const pid = server.pid!
  const probe = await probes(server)
  const counters: Counters = {
    cycles: 0,
    registered: 0,
    passwordLogins: 0,
    tokenLogins: 0,
    sent: 0,
    acked: 0,
    delivered: 0,
    errors: {}
  }
  const startUs = nowUs()
  const deadlineUs = startUs + opts.minutes * 60e6
  const prefix = `s${Math.floor(Math.random() * 1e6).toString(36)}`
  const names = Array.from({ length: 32 }, (_, i) => `${prefix}_${i}`)
  const steadyNames = Array.from({ length: opts.steady }, (_, i) => `${prefix}_steady${i}`)
  const tokens = await setupAccounts(server.endpoint, [...names, ...steadyNames], counters)
  const stops = await Promise.all(
    steadyNames.map((name) => steadyClient(server.endpoint, name, tokens.get(name)!, counters, deadlineUs + 120e6))
  )
  const churn = new Churn(
    { endpoint: server.endpoint, names, tokens, prefix, counters, hooks: hooksFor(counters) },
    deadlineUs,
    opts.minutes * 60 * 2000
  )
  const lanes = churn.start(opts.churn)
  const ticker = setInterval(
    () => process.stderr.write(progressLine(startUs, counters, pid) + "\n"),
    opts.progressSeconds * 1000
  )
  try {
    await sleep(opts.warmupSeconds * 1000)
    await churn.pause()
    const start = await settledReading(pid, probe, opts.settleSeconds * 1000)
    process.stderr.write(
      `[soak] after the warm-up: server RSS ${mib(start.rssBytes)}, heap in use ${
        mib(start.heapBytes)
      }, ${start.fds} open descriptors\n`
    )
    churn.resume()
    await sleep(Math.max(0, (deadlineUs - nowUs()) / 1000))
    await churn.pause()
    const end = await settledReading(pid, probe, opts.settleSeconds * 1000)
    churn.stop()
    await lanes
    const problems = judgeGrowth(start, end, opts.maxGrowthPercent / 100)
    if (!alive(pid)) problems.push("the server exited")
    if (counters.cycles === 0) problems.push("no churn cycle completed")
    return { start, end, counters, problems }
  } finally {
    clearInterval(ticker)
    churn.stop()
    await Promise.all(stops.map((stop) => stop()))
    process.stderr.write(progressLine(startUs, counters, pid) + "\n")
  }
}

const report = (r: SoakResult, opts: SoakOptions): string => {
  const pct = (a: number, b: number) => `${growth(a, b) >= 0 ? "+" : ""}${(growth(a, b) * 100).toFixed(1)} %`
  return [
    `parley soak: ${opts.minutes} min, ${opts.churn} churn lanes, ${opts.steady} steady clients, warm-up ${opts.warmupSeconds} s, ` +
    `node ${process.version}, load average ${loadavg()[0]!.toFixed(2)} at the end`,
    `  churn cycles ${r.counters.cycles}, MSG acked ${r.counters.acked} of ${r.counters.sent}, delivered to steady clients ${r.counters.delivered}`,
    `  server RSS (after a full GC, lowest over ${opts.settleSeconds} s, churn paused): ${mib(r.start.rssBytes)} → ${
      mib(r.end.rssBytes)
    } (${pct(r.start.rssBytes, r.end.rssBytes)})`,
    `  server open descriptors (settled, churn paused): ${r.start.fds} → ${r.end.fds} (${pct(r.start.fds, r.end.fds)})`,
    `  server heap in use (after a full GC, lowest over ${opts.settleSeconds} s, from its /metrics): ${
      mib(r.start.heapBytes)
    } → ${mib(r.end.heapBytes)} (${pct(r.start.heapBytes, r.end.heapBytes)})`,
    `  errors: ${JSON.stringify(r.counters.errors)}`,
    r.problems.length === 0 ? `  PASS (limit +${opts.maxGrowthPercent} %)` : `  FAIL: ${r.problems.join("; ")}`
  ].join("\n")
}

/** Starts Parley, soaks it, prints the report; fails (exit 1) past the allowed growth. */
export const runSoak = (opts: SoakOptions) =>
  Effect.scoped(
    Effect.gen(function*() {
      const server = yield* acquireServer({
        kind: "parley",
        host: "127.0.0.1",
        port: 0,
        extraArgs: ["--metrics-port", "0", ...opts.parleyArgs],
        nodeArgs: ["--inspect=127.0.0.1:0"]
      })
      yield* Console.error(`[soak] Parley pid ${server.pid} on ${server.endpoint.host}:${server.endpoint.port}`)
      const result = yield* Effect.tryPromise({
        try: () => soak(server, opts),
        catch: (e) => (e instanceof SoakFailed ? e : new SoakFailed({ reason: String((e as Error)?.message ?? e) }))
      })
      yield* Console.log(report(result, opts))
      if (result.problems.length > 0) return yield* new SoakFailed({ reason: result.problems.join("; ") })
    })
  )
