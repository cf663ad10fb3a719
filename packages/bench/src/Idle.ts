/**
 * idle and reconnect storm. N token-authenticated connections are opened
 * (spread over several generator processes) and held, in two halves. On a
 * freshly restarted server warmed by 200 logins, VmRSS is read before, after
 * the first half and after the second: the second half's growth per
 * connection is the marginal cost (the first half also pays for what grows
 * once: V8's young generation, caches); growth from 0 is printed too.
 * The storm then restarts the server on the same port and database, and every
 * client comes back with its token: the figure is the time from the new
 * server's start-up line until the last one is authenticated again.
 */
import { Effect } from "effect"
import {
  type BenchContext,
  ensureCredentials,
  labelOf,
  serverCpu,
  serverRss,
  type Target,
  withGenerators
} from "./Bench.ts"
import { nowUs, sleep } from "./Client.ts"
import { GeneratorError, runJob } from "./GeneratorPool.ts"
import type { Figure } from "./Report.ts"

export interface IdleOptions {
  readonly connections: number
  readonly generators: number
  /** Connects in flight per generator. */
  readonly concurrency: number
  readonly settleMs: number
  readonly reconnect: boolean
  /** How long the storm may take before the rest count as failed. */
  readonly reconnectDeadlineMs: number
}

export interface IdleRun {
  readonly server: string
  readonly connections: number
  readonly opened: number
  readonly failed: number
  readonly connectPerSec: number
  /** Server CPU per token login while they were opened, ms. */
  readonly cpuMsPerLogin: number
  readonly rssBefore: number
  readonly rssMid: number
  readonly rssAfter: number
  /** Marginal: the RSS growth of the second half of the connections, per connection. */
  readonly rssPerConnection: number
  /** Everything since before the first connection, per connection (start-up growth included). */
  readonly rssPerConnectionOverall: number
  readonly reconnect:
    | {
      readonly back: number
      readonly attempts: number
      /** From the new server's start-up line to the last client back. */
      readonly fromListeningSec: number
      /** From the restart being asked for (SIGTERM) to the last client back. */
      readonly outageSec: number
      readonly restartSec: number
      readonly errors: Record<string, number>
    }
    | undefined
  readonly errors: Record<string, number>
}

const split = (total: number, parts: number): Array<number> =>
  Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0))

const mergeErrors = (all: ReadonlyArray<Record<string, number>>): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const e of all) for (const [k, v] of Object.entries(e)) out[k] = (out[k] ?? 0) + v
  return out
}

/**
 * Watches RSS for `ms` (a reading every 250 ms) and keeps the lowest. The
 * server is idle meanwhile, so RSS only falls as V8 collects garbage and
 * gives pages back: the lowest reading is the most settled one. V8 does that
 * on its own schedule (its memory reducer, 10-40 s after allocation stops),
 * so a short watch can catch the garbage of the logins, not the cost of
 * holding the connections.
 */
export const settledRss = (read: () => number, ms: number) =>
  Effect.promise(async () => {
    let low = read()
    const until = Date.now() + ms
    while (Date.now() < until) {
      await sleep(250)
      low = Math.min(low, read())
    }
    return low
  })

export const idleOn = (ctx: BenchContext, target: Target, opts: IdleOptions) =>
  withGenerators(ctx, opts.generators, (generators) =>
    Effect.gen(function*() {
      const label = labelOf(target)
      // parley-ws: every idle connection is a WebSocket one
      const webSocket = target.server.spec.transport === "ws"
      const credentials = yield* ensureCredentials(ctx, target, generators[0]!)
      if (target.server.managed) {
        // a fresh process: the RSS before connecting is not inflated by earlier scenarios' garbage
        ctx.progress.update(`${label} idle: restarting the server for a clean RSS reading`)
        yield* Effect.tryPromise({
          try: () => target.server.restart(),
          catch: (e) => new GeneratorError({ reason: `restart: ${String(e)}` })
        })
      }
      // warm the fresh process: the first logins compile and prepare what every later one reuses
      const warm = Math.min(200, opts.connections)
      yield* runJob(generators[0]!, {
        _tag: "Open",
        endpoint: target.server.endpoint,
        credentials,
        count: warm,
        role: "warm-up",
        concurrency: opts.concurrency,
        webSocket
      })
      yield* runJob(generators[0]!, { _tag: "CloseAll" })
      const rssBefore = yield* settledRss(() => serverRss(target), opts.settleMs)
      // two halves: the first also pays for what grows once (the young generation, caches, code);
      // the second half's growth is the marginal cost of a connection
      const openHalf = (total: number) =>
        Effect.all(
          generators.map((g, i) =>
            runJob(g, {
              _tag: "Open",
              endpoint: target.server.endpoint,
              credentials,
              count: split(total, generators.length)[i]!,
              role: "idle",
              concurrency: opts.concurrency,
              webSocket
            })
          ),
          { concurrency: "unbounded" }
        )
      const half = Math.floor(opts.connections / 2)
      ctx.progress.update(`${label} idle: opening ${opts.connections} authenticated connections`)
      const cpu0 = serverCpu(target)
      const first = yield* openHalf(half)
      const cpu1 = serverCpu(target)
      const rssMid = yield* settledRss(() => serverRss(target), opts.settleMs)
      const cpu2 = serverCpu(target)
      const second = yield* openHalf(opts.connections - half)
      const cpu3 = serverCpu(target)
      const opens = [...first, ...second]
      const opened = opens.reduce((n, o) => n + o.opened, 0)
      const openedSecond = second.reduce((n, o) => n + o.opened, 0)
      const failed = opens.reduce((n, o) => n + o.failed, 0)
      const spanOf = (os: ReadonlyArray<{ readonly startUs: number; readonly endUs: number }>) =>
        (Math.max(...os.map((o) => o.endUs)) - Math.min(...os.map((o) => o.startUs))) / 1e6
      const span = spanOf(first) + spanOf(second)
      const cpuMsPerLogin = ((cpu1 - cpu0 + cpu3 - cpu2) * 1000) / Math.max(1, opened)
      const errors = mergeErrors(opens.map((o) => o.errors))
      ctx.progress.update(
        `${label} idle: ${opened} open (${Math.round(opened / span)}/s), watching RSS for ${opts.settleMs / 1000} s`
      )
      const rssAfter = yield* settledRss(() => serverRss(target), opts.settleMs)
      let reconnect: IdleRun["reconnect"] = undefined
      if (opts.reconnect && target.server.managed) {
        ctx.progress.update(`${label} reconnect storm: restarting the server under ${opened} clients`)
        const askedUs = nowUs()
        const storms = Effect.all(
          generators.map((g) =>
            runJob(g, {
              _tag: "Reconnect",
              endpoint: target.server.endpoint,
              concurrency: opts.concurrency,
              deadlineMs: opts.reconnectDeadlineMs
            })
          ),
          { concurrency: "unbounded" }
        )
        const restart = Effect.tryPromise({
          try: () => target.server.restart(),
          catch: (e) => new GeneratorError({ reason: `restart: ${String(e)}` })
        })
        const [results, times] = yield* Effect.all([storms, restart], { concurrency: "unbounded" })
        const back = results.reduce((n, r) => n + r.back, 0)
        const lastBackUs = Math.max(...results.map((r) => r.lastBackUs))
        reconnect = {
          back,
          attempts: results.reduce((n, r) => n + r.attempts, 0),
          fromListeningSec: (lastBackUs - times.listeningUs) / 1e6,
          outageSec: (lastBackUs - askedUs) / 1e6,
          restartSec: (times.listeningUs - askedUs) / 1e6,
          errors: mergeErrors(results.map((r) => r.errors))
        }
        ctx.progress.update(
          `${label} reconnect storm: ${back}/${opened} back ${
            reconnect.fromListeningSec.toFixed(2)
          } s after the restart`
        )
      }
      return {
        server: label,
        connections: opts.connections,
        opened,
        failed,
        connectPerSec: opened / span,
        cpuMsPerLogin,
        rssBefore,
        rssMid,
        rssAfter,
        rssPerConnection: (rssAfter - rssMid) / Math.max(1, openedSecond),
        rssPerConnectionOverall: (rssAfter - rssBefore) / Math.max(1, opened),
        reconnect,
        errors
      } satisfies IdleRun
    }))

const valuesOf = (runs: ReadonlyArray<IdleRun>, f: (run: IdleRun) => number | undefined) =>
  Object.fromEntries(runs.map((r) => [r.server, f(r)]))

export const idleFigures = (runs: ReadonlyArray<IdleRun>, opts: IdleOptions): Array<Figure> => {
  const scenario = `idle N=${opts.connections}`
  const short = opts.connections < 10_000 ? "fewer than the 10,000 the target asks for (quick size)" : undefined
  const failed = runs.filter((r) => r.failed > 0).map((r) =>
    `${r.server}: ${r.failed} failed ${JSON.stringify(r.errors)}`
  )
  const figures: Array<Figure> = [
    {
      scenario,
      metric: "server RSS per connection",
      unit: "KiB",
      // RSS that fell while connections were added is a collection, not a measurement
      values: valuesOf(runs, (r) => (r.rssPerConnection > 0 ? r.rssPerConnection / 1024 : undefined)),
      target: { kind: "atMost", value: 8 },
      note: [
        `the growth from N/2 to N connections, per connection; each reading the lowest over ${
          opts.settleMs / 1000
        } s of idling`,
        short,
        ...runs.filter((r) => r.rssPerConnection <= 0).map((r) =>
          `${r.server}: RSS fell meanwhile (a GC larger than N/2 connections' worth; measure with more)`
        ),
        ...failed
      ].filter(Boolean).join("; ")
    },
    {
      scenario,
      metric: "server RSS per connection, from 0",
      unit: "KiB",
      values: valuesOf(runs, (r) => (r.rssPerConnectionOverall > 0 ? r.rssPerConnectionOverall / 1024 : undefined))
    },
    { scenario, metric: "connect+login rate", unit: "/s", values: valuesOf(runs, (r) => r.connectPerSec) },
    { scenario, metric: "server CPU per token login", unit: "ms", values: valuesOf(runs, (r) => r.cpuMsPerLogin) }
  ]
  if (opts.reconnect) {
    const storm = `reconnect N=${opts.connections}`
    const missing = runs.filter((r) => r.reconnect !== undefined && r.reconnect.back < r.opened)
      .map((r) => `${r.server}: only ${r.reconnect!.back} of ${r.opened} back ${JSON.stringify(r.reconnect!.errors)}`)
    figures.push(
      {
        scenario: storm,
        metric: "all back after listening",
        unit: "s",
        values: valuesOf(
          runs,
          (r) => r.reconnect !== undefined && r.reconnect.back >= r.opened ? r.reconnect.fromListeningSec : undefined
        ),
        target: { kind: "atMost", value: 20 },
        note: [short, ...missing].filter(Boolean).join("; ") || undefined
      },
      {
        scenario: storm,
        metric: "outage incl. restart",
        unit: "s",
        values: valuesOf(runs, (r) => r.reconnect?.outageSec)
      }
    )
  }
  return figures
}
