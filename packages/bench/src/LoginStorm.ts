/**
 * login storm: C clients log in with passwords as fast as they can, each
 * login on a fresh connection, while a side connection PINGs every 20 ms. A
 * PONG's round trip on an idle socket is the server's event-loop delay plus
 * loopback time, so its p99 shows whether hashing blocks everyone else.
 */
import { Effect } from "effect"
import {
  type BenchContext,
  ensureCredentials,
  labelOf,
  latencyMs,
  percentOf,
  serverCpu,
  type Target,
  withGenerators
} from "./Bench.ts"
import { Client, type ClientHooks, nowUs, sleep } from "./Client.ts"
import { runJob } from "./GeneratorPool.ts"
import { Histogram } from "./Histogram.ts"
import type { Figure } from "./Report.ts"

export interface LoginOptions {
  readonly clients: number
  readonly seconds: number
}

export interface LoginRun {
  readonly server: string
  readonly logins: number
  readonly loginsPerSec: number
  readonly failed: number
  readonly rateLimited: number
  readonly loginP99Ms: number
  readonly pingP50Ms: number
  readonly pingP99Ms: number
  readonly pingMaxMs: number
  readonly serverCpuShare: number
  readonly errors: Record<string, number>
}

export const quiet: ClientHooks = { onMessage: () => {}, onAck: () => {}, onError: () => {}, onClose: () => {} }

/** PINGs every `everyMs` (from `localAddress`, if given) until `stop()`; the round trips in µs. */
export const pinger = async (target: Target, everyMs: number, localAddress?: string) => {
  const client = new Client(-1, "pinger", "pinger", quiet)
  await client.open(target.server.endpoint, 30_000, localAddress)
  const rtt = new Histogram()
  let running = true
  const loop = (async () => {
    while (running) {
      const t = nowUs()
      const reply = await client.request({ command: "PING" }, 10_000)
      if (reply.type === "PONG") rtt.record(nowUs() - t)
      await sleep(everyMs)
    }
  })()
  return {
    stop: async () => {
      running = false
      await loop
      await client.close()
      return rtt.toData()
    }
  }
}

export const loginOn = (ctx: BenchContext, target: Target, opts: LoginOptions) =>
  withGenerators(ctx, 1, ([g]) =>
    Effect.gen(function*() {
      const label = labelOf(target)
      const generator = g!
      yield* ensureCredentials(ctx, target, generator)
      ctx.progress.update(`${label} login storm: ${opts.clients} clients for ${opts.seconds} s`)
      const side = yield* Effect.promise(() => pinger(target, 20))
      const cpu0 = serverCpu(target)
      const r = yield* runJob(generator, {
        _tag: "LoginStorm",
        endpoint: target.server.endpoint,
        accounts: ctx.accounts,
        concurrency: opts.clients,
        durationMs: opts.seconds * 1000
      })
      const cpu = serverCpu(target) - cpu0
      const ping = latencyMs(yield* Effect.promise(() => side.stop()))
      const run: LoginRun = {
        server: label,
        logins: r.logins,
        loginsPerSec: r.logins / (r.wallMs / 1000),
        failed: r.failed,
        rateLimited: r.rateLimited,
        loginP99Ms: latencyMs(r.latency).p99,
        pingP50Ms: ping.p50,
        pingP99Ms: ping.p99,
        pingMaxMs: ping.max,
        serverCpuShare: cpu / (r.wallMs / 1000),
        errors: r.errors
      }
      ctx.progress.update(
        `${label} login storm: ${Math.round(run.loginsPerSec)} logins/s, ping p99 ${
          ping.p99.toFixed(1)
        } ms, server cpu ${percentOf(cpu, r.wallMs / 1000)}`
      )
      return run
    }))

const valuesOf = (runs: ReadonlyArray<LoginRun>, f: (run: LoginRun) => number | undefined) =>
  Object.fromEntries(runs.map((r) => [r.server, f(r)]))

export const loginFigures = (runs: ReadonlyArray<LoginRun>, opts: LoginOptions): Array<Figure> => {
  const scenario = `login storm C=${opts.clients}`
  const trouble = runs.filter((r) => r.failed > 0 || r.rateLimited > 0)
    .map((r) => `${r.server}: ${r.failed} failed, ${r.rateLimited} RATE_LIMITED ${JSON.stringify(r.errors)}`)
  return [
    {
      scenario,
      metric: "password logins",
      unit: "/s",
      values: valuesOf(runs, (r) => r.loginsPerSec),
      note: ["the baseline hashes nothing: the ratio is the price of argon2", ...trouble].join("; ")
    },
    { scenario, metric: "login p99", unit: "ms", values: valuesOf(runs, (r) => r.loginP99Ms) },
    { scenario, metric: "side PING p99 (event-loop delay)", unit: "ms", values: valuesOf(runs, (r) => r.pingP99Ms) },
    { scenario, metric: "side PING max", unit: "ms", values: valuesOf(runs, (r) => r.pingMaxMs) },
    { scenario, metric: "server CPU", unit: "cores", values: valuesOf(runs, (r) => r.serverCpuShare) }
  ]
}
