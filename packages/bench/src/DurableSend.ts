/**
 * durable send: S senders, each its own user, each keeping `window` DMs in
 * flight to a user who is offline (so nothing fans out), closed loop: a
 * sender sends its next message when an ACK comes back. ACKs/s is the
 * server's durable write throughput, group commit included.
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
import { runJob } from "./GeneratorPool.ts"
import type { Figure } from "./Report.ts"

export interface DurableOptions {
  readonly senders: number
  readonly window: number
  readonly seconds: number
  readonly textBytes: number
}

export interface DurableRun {
  readonly server: string
  readonly acked: number
  readonly acksPerSec: number
  readonly acksPerCpuSec: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly generatorCpuShare: number
  readonly errors: Record<string, number>
}

export const durableOn = (ctx: BenchContext, target: Target, opts: DurableOptions) =>
  withGenerators(ctx, 1, ([g]) =>
    Effect.gen(function*() {
      const label = labelOf(target)
      const generator = g!
      const credentials = yield* ensureCredentials(ctx, target, generator)
      if (credentials.length < opts.senders) {
        return yield* Effect.dieMessage(
          `durable: ${opts.senders} senders need as many accounts (have ${credentials.length})`
        )
      }
      const opened = yield* runJob(generator, {
        _tag: "Open",
        endpoint: target.server.endpoint,
        credentials: credentials.slice(0, opts.senders),
        count: opts.senders,
        role: "sender",
        concurrency: 32
      })
      if (opened.failed > 0) return yield* Effect.dieMessage(`durable: ${opened.failed} senders failed to log in`)
      ctx.progress.update(
        `${label} durable send: ${opts.senders} senders × ${opts.window} in flight for ${opts.seconds} s`
      )
      const cpu0 = serverCpu(target)
      const r = yield* runJob(generator, {
        _tag: "Durable",
        durationMs: opts.seconds * 1000,
        window: opts.window,
        to: ctx.sink.username,
        textBytes: opts.textBytes
      })
      const cpu = serverCpu(target) - cpu0
      const lat = latencyMs(r.ackLatency)
      const run: DurableRun = {
        server: label,
        acked: r.acked,
        acksPerSec: r.acked / (r.windowMs / 1000),
        acksPerCpuSec: r.acked / cpu,
        p50Ms: lat.p50,
        p99Ms: lat.p99,
        generatorCpuShare: r.cpuMs / r.wallMs,
        errors: r.errors
      }
      ctx.progress.update(
        `${label} durable send: ${Math.round(run.acksPerSec)} ACKs/s, p99 ${lat.p99.toFixed(1)} ms, generator cpu ${
          percentOf(r.cpuMs, r.wallMs)
        }`
      )
      return run
    }))

const valuesOf = (runs: ReadonlyArray<DurableRun>, f: (run: DurableRun) => number | undefined) =>
  Object.fromEntries(runs.map((r) => [r.server, f(r)]))

export const durableFigures = (runs: ReadonlyArray<DurableRun>, opts: DurableOptions): Array<Figure> => {
  const scenario = `durable send S=${opts.senders} window=${opts.window}`
  const errors = runs.filter((r) => Object.keys(r.errors).length > 0).map((r) =>
    `${r.server} errors ${JSON.stringify(r.errors)}`
  )
  return [
    {
      scenario,
      metric: "ACKs",
      unit: "/s",
      values: valuesOf(runs, (r) => r.acksPerSec),
      target: { kind: "atLeast", value: 20_000 },
      note: ["the baseline stores nothing: its ACK is not durable", ...errors].join("; ")
    },
    { scenario, metric: "ACK p99", unit: "ms", values: valuesOf(runs, (r) => r.p99Ms) },
    { scenario, metric: "ACKs per server CPU-s", unit: "/cpu-s", values: valuesOf(runs, (r) => r.acksPerCpuSec) }
  ]
}
