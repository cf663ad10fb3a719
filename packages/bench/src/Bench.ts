/**
 * What every scenario shares: the servers under test (the baseline first,
 * then Parley or an external target), the accounts of this run, the progress
 * line, and the bits of arithmetic on /proc readings.
 */
import { Effect, Scope } from "effect"
import { randomBytes } from "node:crypto"
import { acquireGenerator, type GeneratorProcess, runJob } from "./GeneratorPool.ts"
import { Histogram, type HistogramData } from "./Histogram.ts"
import type { Account, Credential, SetupResult } from "./Jobs.ts"
import { readCpuSeconds, readRss, readSystemCpuSeconds, readWriteCalls } from "./ProcStats.ts"
import type { Progress } from "./Progress.ts"
import type { ManagedServer } from "./ServerProcess.ts"

export interface Target {
  readonly server: ManagedServer
  /** Tokens of the run's accounts on this server, once set up. */
  credentials: ReadonlyArray<Credential> | undefined
  setup: SetupResult | undefined
}

export interface BenchContext {
  readonly runId: string
  /** The run's accounts; the last one is the sink that durable sends address and that never stays online. */
  readonly accounts: ReadonlyArray<Account>
  readonly sink: Account
  readonly targets: ReadonlyArray<Target>
  readonly progress: Progress
  /** Generator processes, started on first use and kept for the whole run (each costs seconds to start). */
  readonly generators: Array<GeneratorProcess>
  /** The run's scope: generators are stopped when it closes. */
  readonly scope: Scope.Scope
}

/**
 * The first `n` generators of the run, starting the missing ones. A scenario
 * gets them empty and must leave them empty (`CloseAll`), which `withGenerators` does.
 */
export const withGenerators = <A, E, R>(
  ctx: BenchContext,
  n: number,
  use: (generators: ReadonlyArray<GeneratorProcess>) => Effect.Effect<A, E, R>
) =>
  Effect.gen(function*() {
    while (ctx.generators.length < n) ctx.generators.push(yield* Scope.extend(acquireGenerator, ctx.scope))
    const mine = ctx.generators.slice(0, n)
    return yield* use(mine).pipe(
      Effect.ensuring(
        Effect.forEach(mine, (g) => Effect.ignore(runJob(g, { _tag: "CloseAll" })), { concurrency: "unbounded" })
      )
    )
  })

export const makeAccounts = (count: number): { runId: string; accounts: Array<Account>; sink: Account } => {
  const runId = randomBytes(4).toString("hex")
  const password = `bench-${runId}-password`
  const accounts = Array.from({ length: count }, (_, i) => ({ username: `b${runId}_${i}`, password }))
  return { runId, accounts, sink: { username: `b${runId}_sink`, password } }
}

/** The name a target's figures go under. */
export const labelOf = (target: Target): string => target.server.name

/** Registers the run's accounts on a target and collects a token for each (once per target). */
export const ensureCredentials = (ctx: BenchContext, target: Target, generator: GeneratorProcess) =>
  Effect.gen(function*() {
    if (target.credentials !== undefined) return target.credentials
    ctx.progress.update(`${labelOf(target)}: registering and logging in ${ctx.accounts.length + 1} accounts`)
    const setup = yield* runJob(generator, {
      _tag: "Setup",
      endpoint: target.server.endpoint,
      accounts: [...ctx.accounts, ctx.sink],
      register: true,
      concurrency: 8
    })
    const mine = setup.credentials.filter((c) => c.username !== ctx.sink.username)
    if (mine.length < ctx.accounts.length) {
      return yield* Effect.dieMessage(
        `${labelOf(target)}: only ${mine.length} of ${ctx.accounts.length} accounts could log in: ${
          JSON.stringify(setup.errors)
        }`
      )
    }
    // keep the tokens in account order so that slices address distinct users
    const byName = new Map(mine.map((c) => [c.username, c]))
    target.credentials = ctx.accounts.map((a) => byName.get(a.username)!)
    target.setup = setup
    return target.credentials
  })

/** A figure read from /proc, summed over every node of a cluster (NaN when the pid is unknown). */
const summedOverNodes = (target: Target, read: (pid: number) => number): number => {
  const pids = target.server.pids.length > 0
    ? target.server.pids
    : target.server.pid === undefined
    ? []
    : [target.server.pid]
  if (pids.length === 0) return NaN
  try {
    return pids.reduce((sum, pid) => sum + read(pid), 0)
  } catch {
    return NaN
  }
}

/** Server CPU seconds so far, every node of a cluster together (NaN when the pid is unknown). */
export const serverCpu = (target: Target): number => summedOverNodes(target, readCpuSeconds)

/** Server CPU seconds spent in the kernel so far (system calls: socket reads and writes), every node together. */
export const serverSystemCpu = (target: Target): number => summedOverNodes(target, readSystemCpuSeconds)

/** Server write system calls so far, every node together: socket writes are most of a fan-out's cost. */
export const serverWriteCalls = (target: Target): number => summedOverNodes(target, readWriteCalls)

/** Server RSS in bytes (NaN when the pid is unknown). */
export const serverRss = (target: Target): number => {
  const pid = target.server.pid
  if (pid === undefined) return NaN
  try {
    return readRss(pid)
  } catch {
    return NaN
  }
}

/** Percentiles of a latency histogram (µs) in milliseconds. */
export const latencyMs = (data: HistogramData) => {
  const h = Histogram.fromData(data)
  const ms = (p: number) => h.percentile(p) / 1000
  return { count: h.count, p50: ms(50), p99: ms(99), p999: ms(99.9), max: h.count > 0 ? h.max / 1000 : NaN }
}

export const percentOf = (part: number, whole: number): string =>
  Number.isFinite(part) && whole > 0 ? `${Math.round((100 * part) / whole)}%` : "?"
