/**
 * fan-out and latency. R receivers and S senders, all on one server; the
 * senders offer a total rate of public 100-byte messages, stepped up until
 * p99 passes the bound or anything is lost. The knee is the highest rate that
 * passed. latency then holds half the knee and reads p50 / p99 / p99.9.
 */
import { Effect } from "effect"
import {
  type BenchContext,
  ensureCredentials,
  labelOf,
  latencyMs,
  percentOf,
  serverCpu,
  serverSystemCpu,
  serverWriteCalls,
  type Target,
  withGenerators
} from "./Bench.ts"
import { nowUs } from "./Client.ts"
import { type GeneratorProcess, runJob } from "./GeneratorPool.ts"
import { judgeStep, type KneeConfig, nextStep, rampEnd, type StepOutcome } from "./KneeSearch.ts"
import type { Figure } from "./Report.ts"

export interface FanOutOptions {
  readonly receivers: number
  readonly senders: number
  readonly stepMs: number
  readonly drainMs: number
  readonly textBytes: number
  readonly maxP99Ms: number
  readonly refineSteps: number
  /** Times a step that failed on p99 alone is run again before it counts as failed (machine noise). */
  readonly retries: number
  /** First rate (messages/s); by default what makes 20,000 deliveries/s. */
  readonly startRate: number | undefined
  readonly maxRate: number
  /** Seconds of a latency run. */
  readonly latencySeconds: number
  /** Seconds at 80,000 deliveries/s worth before a knee search, not counted (the servers' code compiled first). */
  readonly kneeWarmupSeconds: number
  /** Seconds at the latency run's rate before it is measured (its p99 is reported, not counted). */
  readonly warmupSeconds: number
}

export interface StepRecord {
  readonly rate: number
  readonly pass: boolean
  readonly reason: string | undefined
  /** A failure that ends the ramp (loss, or the rate not offered). */
  readonly hard: boolean
  readonly live: number
  readonly sent: number
  readonly sentRate: number
  readonly expected: number
  readonly delivered: number
  readonly lost: number
  /** Deliveries no connection was owed (to one outside the room, or twice): each fails the step. */
  readonly extra: number
  /** Connections that did not get exactly what they were owed. */
  readonly wrongConnections: number
  readonly deliveriesPerSec: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly serverCpuSec: number
  /** Write system calls the server made over the step and its drain (every node together). */
  readonly serverWriteCalls: number
  readonly deliveriesPerCpuSec: number
  readonly generatorCpuShare: number
  /** The generator's longest event-loop stall in the step, ms. */
  readonly generatorStallMs: number
  /** Earlier attempts at this rate that failed on p99 only. */
  readonly retried: number
}

export interface LatencyRecord {
  readonly rate: number
  readonly seconds: number
  readonly samples: number
  readonly lost: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly p999Ms: number
  readonly maxMs: number
  readonly generatorCpuShare: number
  readonly generatorStallMs: number
  readonly serverCpuShare: number
  readonly warmupSeconds: number
  /** p99 of the warm-up's deliveries (NaN without a warm-up). */
  readonly warmupP99Ms: number
}

export interface FanOutRun {
  readonly server: string
  readonly knee: number | undefined
  readonly kneeStep: StepRecord | undefined
  readonly steps: ReadonlyArray<StepRecord>
  /** Deliveries per server CPU-second over the steps that passed (see `efficiency`). */
  readonly deliveriesPerCpuSec: number
}

/**
 * Deliveries per server CPU-second over every step that passed (no loss, p99
 * within bound): the loads the server sustains. Summed rather than read at
 * the knee step alone, because one step's CPU is a few 10 ms ticks at low
 * rates; steps that failed are left out because past the knee the generator
 * (the receiving side) becomes the bottleneck and the server idles waiting
 * on full sockets, which flatters a server that batches. With no passing
 * step, the lossless ones are used.
 */
export const efficiency = (
  steps: ReadonlyArray<Pick<StepRecord, "pass" | "lost" | "delivered" | "serverCpuSec">>
): number => {
  const sum = (keep: (s: Pick<StepRecord, "pass" | "lost">) => boolean) => {
    let delivered = 0
    let cpu = 0
    for (const s of steps) {
      if (!keep(s) || !Number.isFinite(s.serverCpuSec)) continue
      delivered += s.delivered
      cpu += s.serverCpuSec
    }
    return cpu > 0 ? delivered / cpu : NaN
  }
  return steps.some((s) => s.pass) ? sum((s) => s.pass) : sum((s) => s.lost === 0)
}

export interface LatencyRun extends LatencyRecord {
  readonly server: string
}

/** Opens the senders and receivers on a fresh generator. */
const openClients = (ctx: BenchContext, target: Target, generator: GeneratorProcess, opts: FanOutOptions) =>
  Effect.gen(function*() {
    const credentials = yield* ensureCredentials(ctx, target, generator)
    const label = labelOf(target)
    ctx.progress.update(`${label}: opening ${opts.senders} senders + ${opts.receivers} receivers`)
    for (const [role, count] of [["sender", opts.senders], ["receiver", opts.receivers]] as const) {
      const opened = yield* runJob(generator, {
        _tag: "Open",
        endpoint: target.server.endpoint,
        credentials,
        count,
        role,
        concurrency: 64,
        webSocket: role === "receiver" && target.server.spec.transport === "ws"
      })
      if (opened.failed > 0) {
        return yield* Effect.dieMessage(`${label}: ${opened.failed} ${role}s failed: ${JSON.stringify(opened.errors)}`)
      }
    }
  })

/** What a knee search sends: to `general` from the senders (fan-out), or to random rooms (the rooms scenario). */
export interface Traffic {
  /** How the progress line names it: `fan-out R=100`, `rooms U=1000 K=100`. */
  readonly label: string
  readonly mode: "broadcast" | "anyone" | "rooms"
  /** Connections a message reaches (on average): the first rate is 20,000 deliveries/s worth. */
  readonly audience: number
}

/** One step at `rate`: offered for stepMs, drained, judged. */
const runStep = (
  ctx: BenchContext,
  target: Target,
  generator: GeneratorProcess,
  opts: FanOutOptions,
  traffic: Traffic,
  step: number,
  rate: number,
  durationMs: number,
  retried: number
) =>
  Effect.gen(function*() {
    yield* runJob(generator, { _tag: "Prepare", endpoint: target.server.endpoint, quietMs: 150, maxMs: 5_000 })
    const cpu0 = serverCpu(target)
    const writes0 = serverWriteCalls(target)
    const sys0 = serverSystemCpu(target)
    const t0 = nowUs()
    const r = yield* runJob(generator, {
      _tag: "FanStep",
      step,
      rate,
      durationMs,
      drainMs: opts.drainMs,
      textBytes: opts.textBytes,
      mode: traffic.mode
    })
    const wallSec = (nowUs() - t0) / 1e6
    const serverCpuSec = serverCpu(target) - cpu0
    const writes = serverWriteCalls(target) - writes0
    const sys = serverSystemCpu(target) - sys0
    const lat = latencyMs(r.latency)
    // counted connection by connection: a delivery to the wrong one does not make up for a missing one
    const lost = r.missing + Math.max(0, r.sent - r.acked)
    const sentRate = r.sent / (r.sendWindowMs / 1000)
    const verdict = judgeStep(
      { targetRate: rate, sentRate, lost, misdelivered: r.extra, p99Ms: lat.p99 },
      { maxP99Ms: opts.maxP99Ms, minSendShare: 0.9 }
    )
    const record: StepRecord = {
      rate,
      pass: verdict.pass,
      reason: verdict.pass ? undefined : verdict.reason,
      hard: !verdict.pass && verdict.hard,
      live: r.live,
      sent: r.sent,
      sentRate,
      expected: r.expected,
      delivered: r.delivered,
      lost,
      extra: r.extra,
      wrongConnections: r.wrongConnections,
      // the drain included: past the knee, much arrives after the senders stop
      deliveriesPerSec: r.delivered / (r.wallMs / 1000),
      p50Ms: lat.p50,
      p99Ms: lat.p99,
      serverCpuSec,
      serverWriteCalls: writes,
      deliveriesPerCpuSec: r.delivered / serverCpuSec,
      generatorCpuShare: r.cpuMs / r.wallMs,
      generatorStallMs: r.stallMs,
      retried
    }
    ctx.progress.update(
      `${labelOf(target)} ${traffic.label}: step ${step} ${rate} msg/s → ${
        Math.round(record.deliveriesPerSec)
      } deliveries/s p99 ${lat.p99.toFixed(1)} ms lost ${lost} ${
        verdict.pass ? "pass" : `FAIL (${verdict.reason})`
      } | server cpu ${percentOf(serverCpuSec, wallSec)} (kernel ${percentOf(sys, wallSec)}), ${
        writes > 0 ? (r.delivered / writes).toFixed(1) : "?"
      } deliveries per write call | generator cpu ${percentOf(r.cpuMs, r.wallMs)} stall ${r.stallMs.toFixed(0)} ms`
    )
    return record
  })

/**
 * Traffic before a knee search, not judged and not counted: a fresh server
 * process spends its first seconds of traffic compiling its hot paths (in a
 * cluster each node does, so twice), which the first steps would otherwise
 * charge to the deliveries of the lowest rates.
 */
const warmUp = (
  ctx: BenchContext,
  target: Target,
  generator: GeneratorProcess,
  opts: FanOutOptions,
  traffic: Traffic,
  rate: number
) =>
  Effect.gen(function*() {
    const at = Math.max(1, Math.min(opts.maxRate, rate))
    ctx.progress.update(
      `${labelOf(target)} ${traffic.label}: warming up at ${at} msg/s for ${opts.kneeWarmupSeconds} s (not counted)`
    )
    yield* runJob(generator, { _tag: "Prepare", endpoint: target.server.endpoint, quietMs: 150, maxMs: 5_000 })
    yield* runJob(generator, {
      _tag: "FanStep",
      step: 0,
      rate: at,
      durationMs: opts.kneeWarmupSeconds * 1000,
      drainMs: opts.drainMs,
      textBytes: opts.textBytes,
      mode: traffic.mode
    })
  })

/** The latency run: a fixed rate for a while, percentiles of every delivery. */
const runLatency = (
  ctx: BenchContext,
  target: Target,
  generator: GeneratorProcess,
  opts: FanOutOptions,
  rate: number
) =>
  Effect.gen(function*() {
    ctx.progress.update(
      `${
        labelOf(target)
      } latency R=${opts.receivers}: ${rate} msg/s for ${opts.warmupSeconds} s of warm-up, then ${opts.latencySeconds} s measured`
    )
    yield* runJob(generator, { _tag: "Prepare", endpoint: target.server.endpoint, quietMs: 150, maxMs: 5_000 })
    const cpu0 = serverCpu(target)
    const r = yield* runJob(generator, {
      _tag: "FanStep",
      step: 9999,
      rate,
      warmupMs: opts.warmupSeconds * 1000,
      durationMs: opts.latencySeconds * 1000,
      drainMs: Math.max(opts.drainMs, 2_000),
      textBytes: opts.textBytes
    })
    const serverCpuSec = serverCpu(target) - cpu0
    const lat = latencyMs(r.latency)
    const record: LatencyRecord = {
      rate,
      seconds: opts.latencySeconds,
      samples: lat.count,
      lost: Math.max(0, r.expected - r.delivered) + Math.max(0, r.sent - r.acked),
      p50Ms: lat.p50,
      p99Ms: lat.p99,
      p999Ms: lat.p999,
      maxMs: lat.max,
      generatorCpuShare: r.cpuMs / r.wallMs,
      generatorStallMs: r.stallMs,
      serverCpuShare: serverCpuSec / (r.wallMs / 1000),
      warmupSeconds: opts.warmupSeconds,
      warmupP99Ms: r.warmupSent > 0 ? latencyMs(r.warmupLatency).p99 : NaN
    }
    return record
  })

/**
 * The knee search on a generator whose connections are open: the rate
 * doubles, then bisects (see `KneeSearch`); the step settings come from `opts`.
 */
export const kneeSearch = (
  ctx: BenchContext,
  target: Target,
  generator: GeneratorProcess,
  opts: FanOutOptions,
  traffic: Traffic
) =>
  Effect.gen(function*() {
    const steps: Array<StepRecord> = []
    const config: KneeConfig = {
      startRate: opts.startRate ?? Math.max(1, Math.round(20_000 / Math.max(1, traffic.audience))),
      factor: 2,
      refineSteps: opts.refineSteps,
      maxRate: opts.maxRate,
      minRate: 1
    }
    if (opts.kneeWarmupSeconds > 0) yield* warmUp(ctx, target, generator, opts, traffic, config.startRate * 4)
    const history: Array<StepOutcome> = []
    let knee: number | undefined
    for (;;) {
      const next = nextStep(config, history)
      if (next._tag === "Done") {
        knee = next.knee
        break
      }
      let record = yield* runStep(ctx, target, generator, opts, traffic, steps.length + 1, next.rate, opts.stepMs, 0)
      // while bisecting, a p99 failure with nothing lost may be a hiccup of this shared machine: look again
      // (on the ramp it stops nothing, so it is not worth the time)
      const bisecting = rampEnd(config, history) >= 0
      while (bisecting && !record.pass && !record.hard && record.retried < opts.retries) {
        record = yield* runStep(
          ctx,
          target,
          generator,
          opts,
          traffic,
          steps.length + 1,
          next.rate,
          opts.stepMs,
          record.retried + 1
        )
      }
      steps.push(record)
      history.push({ rate: record.rate, pass: record.pass, hard: record.hard })
    }
    const kneeStep = knee === undefined ? undefined : steps.find((s) => s.pass && s.rate === knee)
    return {
      server: labelOf(target),
      knee,
      kneeStep,
      steps,
      deliveriesPerCpuSec: efficiency(steps)
    } satisfies FanOutRun
  })

/**
 * The knee search of the fan-out against one server: R receivers and S
 * senders, messages to `general`; with `fromAnyone`, sent by all R + S
 * connections in turn.
 */
export const fanOutOn = (ctx: BenchContext, target: Target, opts: FanOutOptions, fromAnyone = false) =>
  withGenerators(ctx, 1, ([generator]) =>
    Effect.gen(function*() {
      yield* openClients(ctx, target, generator!, opts)
      return yield* kneeSearch(ctx, target, generator!, opts, {
        label: `fan-out R=${opts.receivers}${fromAnyone ? " from every connection" : ""}`,
        mode: fromAnyone ? "anyone" : "broadcast",
        audience: opts.receivers + opts.senders - 1
      })
    }))

/** The latency run against one server, on fresh connections. */
export const latencyOn = (ctx: BenchContext, target: Target, opts: FanOutOptions, rate: number) =>
  withGenerators(ctx, 1, ([generator]) =>
    Effect.gen(function*() {
      yield* openClients(ctx, target, generator!, opts)
      const record = yield* runLatency(ctx, target, generator!, opts, rate)
      return { server: labelOf(target), ...record } satisfies LatencyRun
    }))

const valuesOf = <R extends { readonly server: string }>(runs: ReadonlyArray<R>, f: (run: R) => number | undefined) =>
  Object.fromEntries(runs.map((r) => [r.server, f(r)]))

/**
 * For each cluster among the servers (`parley-pg x2`), `f` of it against `f`
 * of the one-node server on the same backend (`parley-pg`), by `compare`.
 */
const clusterVersusOne = <R extends { readonly server: string }>(
  runs: ReadonlyArray<R>,
  f: (run: R) => number | undefined,
  compare: (cluster: number, one: number) => number
): Record<string, number | undefined> =>
  clusterRunVersusOne(runs, (cluster, one) => {
    const [a, b] = [f(cluster), f(one)]
    return a === undefined || b === undefined ? undefined : compare(a, b)
  })

/** For each cluster among the servers, `compare` of its run against the one-node run on the same backend. */
const clusterRunVersusOne = <R extends { readonly server: string }>(
  runs: ReadonlyArray<R>,
  compare: (cluster: R, one: R) => number | undefined
): Record<string, number | undefined> =>
  Object.fromEntries(runs.flatMap((run) => {
    const one = runs.find((r) => r.server === /^(.*) x\d+$/.exec(run.server)?.[1])
    return one === undefined ? [] : [[run.server, compare(run, one)]]
  }))

/**
 * What a delivery costs a cluster against one node, apart from where each
 * knee landed: over the rates both passed, one node's CPU for its
 * deliveries, against the CPU the cluster spent per delivery at the same
 * rate times those same deliveries. Deliveries per CPU-second climb with the
 * rate (more frames per write call), so a search that stops a doubling lower
 * moves the pooled figure by as much as the servers' costs do; this one
 * compares like with like. Undefined without a rate both passed.
 */
export const equalRateRatio = (
  cluster: ReadonlyArray<Pick<StepRecord, "rate" | "pass" | "delivered" | "serverCpuSec">>,
  one: ReadonlyArray<Pick<StepRecord, "rate" | "pass" | "delivered" | "serverCpuSec">>
): number | undefined => {
  const byRate = (steps: typeof one) => {
    const sums = new Map<number, { delivered: number; cpu: number }>()
    for (const s of steps) {
      if (!s.pass || !Number.isFinite(s.serverCpuSec) || s.serverCpuSec <= 0 || s.delivered <= 0) continue
      const sum = sums.get(s.rate) ?? { delivered: 0, cpu: 0 }
      sums.set(s.rate, { delivered: sum.delivered + s.delivered, cpu: sum.cpu + s.serverCpuSec })
    }
    return sums
  }
  const clusterByRate = byRate(cluster)
  let oneCpu = 0
  let clusterCpu = 0
  for (const [rate, mine] of byRate(one)) {
    const theirs = clusterByRate.get(rate)
    if (theirs === undefined) continue
    oneCpu += mine.cpu
    clusterCpu += mine.delivered * (theirs.cpu / theirs.delivered)
  }
  return clusterCpu > 0 ? oneCpu / clusterCpu : undefined
}

/** The figures of the knee searches on every server. */
/**
 * One server's knee searches of several rounds as one run: every step of
 * every round, deliveries per server CPU-second over all the passing ones
 * (`efficiency`), and the median round's knee. One search's figure rides on
 * where it lands (a doubling higher or lower moved the cluster's ratio
 * between 0.23 and 0.73 in two runs a minute apart); pooled, each round
 * weighs by the work it measured.
 */
export const pooledRun = (rounds: ReadonlyArray<FanOutRun>): FanOutRun => {
  const byKnee = [...rounds].sort((a, b) => (a.knee ?? 0) - (b.knee ?? 0))
  const median = byKnee[Math.floor((byKnee.length - 1) / 2)]!
  const steps = rounds.flatMap((r) => r.steps)
  return {
    server: median.server,
    knee: median.knee,
    kneeStep: median.kneeStep,
    steps,
    deliveriesPerCpuSec: efficiency(steps)
  }
}

export const fanOutFigures = (
  runs: ReadonlyArray<FanOutRun>,
  opts: FanOutOptions,
  rounds = 1
): Array<Figure> => {
  const figures = roundFigures(runs, opts)
  if (rounds <= 1) return figures
  const pooled = `${rounds} rounds pooled, alternating the servers' order: every passing step of every round; ` +
    "the knee and deliveries at the knee are the median round's"
  return figures.map((f) => ({ ...f, note: f.note === undefined ? pooled : `${f.note}; ${pooled}` }))
}

const roundFigures = (runs: ReadonlyArray<FanOutRun>, opts: FanOutOptions): Array<Figure> => {
  const scenario = `fan-out R=${opts.receivers} S=${opts.senders}`
  const generatorBound = runs.filter((r) => r.steps.some((s) => !s.pass && s.generatorCpuShare > 0.9))
  return [
    {
      scenario,
      metric: "knee rate",
      unit: "msg/s",
      values: valuesOf(runs, (r) => r.knee),
      note: generatorBound.length > 0
        ? `the generator was above 90% of a core in a failing step (${
          generatorBound.map((r) => r.server).join(", ")
        }): that knee may be the generator's`
        : undefined
    },
    { scenario, metric: "deliveries at knee", unit: "/s", values: valuesOf(runs, (r) => r.kneeStep?.deliveriesPerSec) },
    {
      scenario,
      metric: "deliveries per server CPU-s",
      unit: "/cpu-s",
      values: valuesOf(runs, (r) => r.deliveriesPerCpuSec),
      target: { kind: "ratioAtLeast", value: 1.5 },
      note: "over every step that passed (server CPU from /proc/<pid>/stat)"
    },
    ...clusterFigure(runs, {
      scenario,
      metric: "deliveries per server CPU-s, cluster / one node",
      unit: "x",
      values: clusterVersusOne(runs, (r) => r.deliveriesPerCpuSec, (cluster, one) => cluster / one),
      target: { kind: "atLeast", value: 0.7 },
      note: "every node's CPU together, against one node on the same backend in the same run"
    }),
    ...clusterFigure(runs, {
      scenario,
      metric: "deliveries per server CPU-s at equal rates, cluster / one node",
      unit: "x",
      values: clusterRunVersusOne(runs, (cluster, one) => equalRateRatio(cluster.steps, one.steps)),
      note: "over the rates both passed: one node's CPU for its deliveries, against the cluster's CPU per delivery " +
        "at the same rate times the same deliveries (what a delivery costs, wherever each knee landed)"
    })
  ]
}

/** The figure, when the run has a cluster to compare (`--nodes`). */
const clusterFigure = (runs: ReadonlyArray<{ readonly server: string }>, figure: Figure): Array<Figure> =>
  runs.some((r) => / x\d+$/.test(r.server)) ? [figure] : []

/** The figures of latency runs on every server (all at the same rate). */
export const latencyFigures = (
  runs: ReadonlyArray<LatencyRun>,
  opts: FanOutOptions,
  how: string,
  knees: ReadonlyArray<FanOutRun> = []
): Array<Figure> => {
  const scenario = `latency R=${opts.receivers} S=${opts.senders}`
  const lost = runs.filter((r) => r.lost > 0).map((r) => `${r.server} lost ${r.lost}`)
  const stalls = runs.map((r) => `${r.server} ${r.generatorStallMs.toFixed(0)} ms`).join(", ")
  const warm = runs.filter((r) => r.warmupSeconds > 0 && Number.isFinite(r.warmupP99Ms))
  const warmup = warm.length === 0 ?
    "" :
    ` after ${warm[0]!.warmupSeconds} s of warm-up at that rate (not counted; its p99: ${
      warm.map((r) => `${r.server} ${r.warmupP99Ms.toFixed(1)} ms`).join(", ")
    })`
  const rate = runs[0]?.rate
  const over = knees.filter((k) => rate !== undefined && k.knee !== undefined && rate > k.knee)
    .map((k) => `above ${k.server}'s own knee (${k.knee} msg/s)`)
  return [
    {
      scenario,
      metric: "p50",
      unit: "ms",
      values: valuesOf(runs, (r) => r.p50Ms),
      note: `${rate} msg/s (${how}) for ${opts.latencySeconds} s${warmup}; longest generator stall: ${stalls}${
        lost.length > 0 ? `; ${lost.join(", ")}` : ""
      }${over.length > 0 ? `; ${over.join(", ")}` : ""}`
    },
    {
      scenario,
      metric: "p99",
      unit: "ms",
      values: valuesOf(runs, (r) => r.p99Ms),
      target: { kind: "atMost", value: 10 }
    },
    { scenario, metric: "p99.9", unit: "ms", values: valuesOf(runs, (r) => r.p999Ms) },
    ...clusterFigure(runs, {
      scenario,
      metric: "p99 added by the cross-node hop",
      unit: "ms",
      values: clusterVersusOne(runs, (r) => r.p99Ms, (cluster, one) => cluster - one),
      target: { kind: "atMost", value: 5 },
      note: "the cluster's p99 minus one node's on the same backend, at the same rate"
    })
  ]
}
