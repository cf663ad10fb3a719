/**
 * login flood from many addresses (`pnpm bench login --addresses 1,64`):
 * the login storm, but with Parley's default abuse limits on and the flood
 * coming from N source addresses (127.0.0.1 … 127.0.0.N, see LoginFlood.ts),
 * every second attempt a wrong password for an account it never logs into. Meanwhile a legitimate user
 * logs in again and again from 127.0.1.1 (connect, CONNECT with its password,
 * close), and a side connection from 127.0.1.2 PINGs every 20 ms for the
 * event-loop delay. The throttles are there to keep the legitimate user's
 * login quick whatever the flood does; this measures whether they do. Each
 * N floods accounts of its own, so no (name, address) failure count carries
 * over from one run to the next.
 */
import { Effect } from "effect"
import { type BenchContext, labelOf, latencyMs, serverCpu, type Target, withGenerators } from "./Bench.ts"
import { Client, nowUs, sleep } from "./Client.ts"
import { runJob } from "./GeneratorPool.ts"
import { Histogram } from "./Histogram.ts"
import type { Account } from "./Jobs.ts"
import { pinger, quiet } from "./LoginStorm.ts"
import type { Figure } from "./Report.ts"

export interface AddressFloodOptions {
  /** Flood source address counts to run, one run each. */
  readonly addresses: ReadonlyArray<number>
  /** Flood connections at once (at least one per address). */
  readonly clients: number
  readonly seconds: number
}

export interface AddressFloodRun {
  readonly server: string
  readonly addresses: number
  readonly connections: number
  readonly legitLogins: number
  readonly legitP50Ms: number
  readonly legitP99Ms: number
  readonly legitMaxMs: number
  readonly legitFailures: Record<string, number>
  readonly floodLoginsPerSec: number
  readonly floodAttemptsPerSec: number
  readonly rateLimited: number
  readonly floodReplies: Record<string, number>
  readonly floodErrors: Record<string, number>
  readonly pingP99Ms: number
  readonly pingMaxMs: number
  readonly serverCpuShare: number
}

const LEGIT_ADDRESS = "127.0.1.1"
const PING_ADDRESS = "127.0.1.2"
/** Accounts each setup address registers: under the default `--register-rate` of 5 per 10 minutes. */
const PER_SETUP_ADDRESS = 4
const FLOOD_ACCOUNTS = 16

/** The flood's source addresses: 127.0.0.1 … 127.0.0.n. */
export const floodAddresses = (n: number): Array<string> => {
  if (n < 1 || n > 254) throw new Error(`--addresses: ${n} is not 1..254`)
  return Array.from({ length: n }, (_, i) => `127.0.0.${i + 1}`)
}

const bump = (counts: Record<string, number>, key: string) => {
  counts[key] = (counts[key] ?? 0) + 1
}

/** Registers accounts, a few per address of 127.0.2.x so the default registration limit is not reached. */
const registerAll = async (target: Target, accounts: ReadonlyArray<Account>, firstAddress: number) => {
  for (const [i, account] of accounts.entries()) {
    const client = new Client(-1, account.username, "setup", quiet)
    try {
      await client.open(target.server.endpoint, 10_000, `127.0.2.${firstAddress + Math.floor(i / PER_SETUP_ADDRESS)}`)
      const reply = await client.request({
        command: "REGISTER",
        username: account.username,
        password: account.password
      }, 30_000)
      if (reply.type !== "REGISTERED") {
        throw new Error(`${labelOf(target)}: REGISTER ${account.username}: ${JSON.stringify(reply)}`)
      }
    } finally {
      await client.close()
    }
  }
}

/** The legitimate user's loop: connect, log in, close, every 100 ms, until `stop()`. */
const legitimateUser = (target: Target, account: Account) => {
  const latency = new Histogram()
  const failures: Record<string, number> = {}
  let running = true
  const loop = (async () => {
    for (let i = 0; running && i < 100_000; i++) {
      const client = new Client(-1, account.username, "legit", quiet)
      const t = nowUs()
      try {
        await client.open(target.server.endpoint, 30_000, LEGIT_ADDRESS)
        const reply = await client.login({ password: account.password })
        if (reply.type === "CONNECTED") latency.record(nowUs() - t)
        else bump(failures, reply.type === "ERROR" ? String(reply.code) : reply.type)
      } catch (e) {
        bump(failures, client.bye ?? (e as Error).message)
      } finally {
        await client.close()
      }
      await sleep(100)
    }
  })()
  return async () => {
    running = false
    await loop
    return { latency: latencyMs(latency.toData()), failures }
  }
}

/** Targets whose accounts for this scenario are registered already (a restart keeps Parley's database). */
const registered = new WeakSet<Target>()

/** The accounts the `run`th flood logs in with (the run's accounts hold four floods' worth; a fifth starts over). */
const floodAccounts = (ctx: BenchContext, run: number): ReadonlyArray<Account> => {
  const floods = Math.max(1, Math.floor(ctx.accounts.length / FLOOD_ACCOUNTS))
  const from = (run % floods) * FLOOD_ACCOUNTS
  return ctx.accounts.slice(from, from + FLOOD_ACCOUNTS)
}

/** One flood from `n` addresses against one target, with the legitimate user and the side PING beside it. */
const floodOnce = (ctx: BenchContext, target: Target, opts: AddressFloodOptions, n: number, index: number) =>
  withGenerators(ctx, 1, ([generator]) =>
    Effect.gen(function*() {
      const label = labelOf(target)
      const flood = floodAccounts(ctx, index)
      const legit = ctx.sink
      if (!registered.has(target)) {
        ctx.progress.update(
          `${label}: registering ${ctx.accounts.length + 1} accounts, ${PER_SETUP_ADDRESS} per address`
        )
        yield* Effect.promise(() => registerAll(target, [...ctx.accounts, legit], 1))
        registered.add(target)
      }
      const connections = Math.max(opts.clients, n)
      ctx.progress.update(
        `${label} login flood: ${connections} connections from ${n} address${n === 1 ? "" : "es"} for ${opts.seconds} s`
      )
      const side = yield* Effect.promise(() => pinger(target, 20, PING_ADDRESS))
      const stopLegit = legitimateUser(target, legit)
      const cpu0 = serverCpu(target)
      const r = yield* runJob(generator!, {
        _tag: "LoginFlood",
        endpoint: target.server.endpoint,
        accounts: flood,
        addresses: floodAddresses(n),
        concurrency: connections,
        durationMs: opts.seconds * 1000
      })
      const cpu = serverCpu(target) - cpu0
      const legitResult = yield* Effect.promise(() => stopLegit())
      const ping = latencyMs(yield* Effect.promise(() => side.stop()))
      const seconds = r.wallMs / 1000
      const attempts = Object.values(r.replies).reduce((a, b) => a + b, 0)
      const run: AddressFloodRun = {
        server: label,
        addresses: n,
        connections,
        legitLogins: legitResult.latency.count,
        legitP50Ms: legitResult.latency.p50,
        legitP99Ms: legitResult.latency.p99,
        legitMaxMs: legitResult.latency.max,
        legitFailures: legitResult.failures,
        floodLoginsPerSec: (r.replies.CONNECTED ?? 0) / seconds,
        floodAttemptsPerSec: attempts / seconds,
        rateLimited: r.replies.RATE_LIMITED ?? 0,
        floodReplies: r.replies,
        floodErrors: r.errors,
        pingP99Ms: ping.p99,
        pingMaxMs: ping.max,
        serverCpuShare: cpu / seconds
      }
      ctx.progress.update(
        `${label} login flood A=${n}: legit login p99 ${run.legitP99Ms.toFixed(0)} ms, max ${
          run.legitMaxMs.toFixed(0)
        } ms; ` +
          `flood ${Math.round(run.floodAttemptsPerSec)} attempts/s; ping p99 ${ping.p99.toFixed(1)} ms`
      )
      return run
    }))

export const addressFloodOn = (ctx: BenchContext, target: Target, opts: AddressFloodOptions) =>
  Effect.forEach(opts.addresses, (n, index) => floodOnce(ctx, target, opts, n, index))

const valuesOf = (runs: ReadonlyArray<AddressFloodRun>, f: (run: AddressFloodRun) => number) =>
  Object.fromEntries(runs.map((r) => [r.server, f(r)]))

const breakdown = (runs: ReadonlyArray<AddressFloodRun>) =>
  runs.map((r) =>
    `${r.server}: flood replies ${JSON.stringify(r.floodReplies)}, refused ${JSON.stringify(r.floodErrors)}, ` +
    `legit ${r.legitLogins} logins, failures ${JSON.stringify(r.legitFailures)}, server CPU ${
      r.serverCpuShare.toFixed(2)
    } cores`
  ).join("; ")

/** Figures per address count; runs are every target's, all address counts. */
export const addressFloodFigures = (runs: ReadonlyArray<AddressFloodRun>, opts: AddressFloodOptions): Array<Figure> =>
  opts.addresses.flatMap((n) => {
    const mine = runs.filter((r) => r.addresses === n)
    const scenario = `login flood A=${n} C=${Math.max(opts.clients, n)}`
    return [
      {
        scenario,
        metric: "legit login p50",
        unit: "ms",
        values: valuesOf(mine, (r) => r.legitP50Ms),
        note: `every 2nd flood attempt guesses a password (always wrong) of an account it never logs into; ${
          breakdown(mine)
        }`
      },
      { scenario, metric: "legit login p99", unit: "ms", values: valuesOf(mine, (r) => r.legitP99Ms) },
      {
        scenario,
        metric: "legit login max",
        unit: "ms",
        values: valuesOf(mine, (r) => r.legitMaxMs),
        target: n === 1 ? { kind: "atMost", value: 1000 } : undefined
      },
      { scenario, metric: "flood logins", unit: "/s", values: valuesOf(mine, (r) => r.floodLoginsPerSec) },
      { scenario, metric: "flood attempts answered", unit: "/s", values: valuesOf(mine, (r) => r.floodAttemptsPerSec) },
      { scenario, metric: "flood RATE_LIMITED", unit: "replies", values: valuesOf(mine, (r) => r.rateLimited) },
      {
        scenario,
        metric: "side PING p99 (event-loop delay)",
        unit: "ms",
        values: valuesOf(mine, (r) => r.pingP99Ms),
        target: { kind: "atMost", value: 20 }
      },
      { scenario, metric: "side PING max", unit: "ms", values: valuesOf(mine, (r) => r.pingMaxMs) }
    ]
  })
