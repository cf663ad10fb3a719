/**
 * Runs scenarios against the servers of one run (the baseline first, then
 * Parley on each backend of `--db`, or the external target), and turns what
 * they measured into figures and a report: a table for people, JSON for
 * machines.
 */
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import { existsSync } from "node:fs"
import { cpus, loadavg, totalmem } from "node:os"
import { type Backend, sqlite } from "./Backend.ts"
import { type BenchContext, makeAccounts, type Target } from "./Bench.ts"
import { durableFigures, durableOn, type DurableOptions } from "./DurableSend.ts"
import {
  fanOutFigures,
  fanOutOn,
  type FanOutOptions,
  type FanOutRun,
  latencyFigures,
  latencyOn,
  type LatencyRun,
  pooledRun
} from "./FanOut.ts"
import { idleFigures, idleOn, type IdleOptions } from "./Idle.ts"
import {
  addressFloodFigures,
  addressFloodOn,
  type AddressFloodOptions,
  type AddressFloodRun
} from "./LoginAddresses.ts"
import { loginFigures, loginOn, type LoginOptions } from "./LoginStorm.ts"
import { repoRoot, serverBin } from "./Paths.ts"
import { makeProgress } from "./Progress.ts"
import { type Figure, renderTable, toRow } from "./Report.ts"
import { roomsFigures, roomsOn } from "./Rooms.ts"
import { acquireServer, type ManagedServer, ServerError } from "./ServerProcess.ts"

export interface RunOptions {
  readonly json: boolean
  readonly host: string | undefined
  readonly port: number | undefined
  readonly pid: number | undefined
  readonly servers: "both" | "parley" | "baseline"
  readonly parleyArgs: ReadonlyArray<string>
  /** Where Parley stores, one Parley server per backend in this order; none: SQLite. */
  readonly backends: ReadonlyArray<Backend>
  /** Write a V8 CPU profile of each server it starts into this directory. */
  readonly cpuProf: string | undefined
  /** Parley's abuse limits: off (the default), or at the server's own defaults (the login flood). */
  readonly abuseLimits?: "off" | "default"
  /** Also a cluster of this many Parley nodes on each PostgreSQL backend (1: none). */
  readonly nodes?: number
  /** The cluster's bus. */
  readonly bus?: string
  /** ws: each Parley is also measured with its receivers on WebSocket, as `parley-ws`, beside TCP. */
  readonly transport?: "tcp" | "ws"
}

/** What a scenario gives back: its figures, and the raw runs for `--json`. */
export interface ScenarioResult {
  readonly figures: ReadonlyArray<Figure>
  readonly details: Record<string, unknown>
}

export type Scenario = (ctx: BenchContext) => Effect.Effect<ScenarioResult, unknown>

const ACCOUNTS = 64

/** The servers under test: all but the baseline (the baseline itself when it runs alone). */
const subjectsOf = (ctx: BenchContext): ReadonlyArray<Target> => {
  const subjects = ctx.targets.filter((t) => t.server.name !== "baseline")
  return subjects.length > 0 ? subjects : ctx.targets.slice(-1)
}

/** Each target in turn (never two at once: they share two cores). */
const onEach = <A, E>(ctx: BenchContext, f: (target: Target) => Effect.Effect<A, E>) =>
  Effect.forEach(ctx.targets, f, { concurrency: 1 })

/**
 * A scenario that runs `on` with `opts` on each target in turn: its figures are `figures` of all
 * the runs, and the runs go in the details under `key`.
 */
const onEachTarget = <O, Run>(
  key: (opts: O) => string,
  on: (ctx: BenchContext, target: Target, opts: O) => Effect.Effect<Run, unknown>,
  figures: (runs: ReadonlyArray<Run>, opts: O) => ReadonlyArray<Figure>
) =>
(opts: O): Scenario =>
(ctx) =>
  Effect.map(onEach(ctx, (t) => on(ctx, t, opts)), (runs) => ({
    figures: figures(runs, opts),
    details: { [key(opts)]: runs }
  }))

/**
 * fan-out on every target; with `rounds` > 1 each target's knee search runs
 * that many times, the targets' order alternating from round to round, and
 * each target's rounds are pooled into one run (`pooledRun`).
 */
export const fanOutScenario = (opts: FanOutOptions, rounds = 1): Scenario => (ctx) =>
  Effect.gen(function*() {
    const key = `fan-out R=${opts.receivers}`
    if (rounds <= 1) {
      const runs = yield* onEach(ctx, (t) => fanOutOn(ctx, t, opts))
      return { figures: fanOutFigures(runs, opts), details: { [key]: runs } }
    }
    const byTarget = new Map<Target, Array<FanOutRun>>(ctx.targets.map((t) => [t, []]))
    for (let round = 0; round < rounds; round++) {
      const order = round % 2 === 0 ? ctx.targets : [...ctx.targets].reverse()
      for (const target of order) byTarget.get(target)!.push(yield* fanOutOn(ctx, target, opts))
    }
    const runs = ctx.targets.map((t) => pooledRun(byTarget.get(t)!))
    return {
      figures: fanOutFigures(runs, opts, rounds),
      details: { [key]: runs, [`${key} rounds`]: ctx.targets.map((t) => byTarget.get(t)!) }
    }
  })

/**
 * latency at a fixed rate on every server: `rate`, or half of the knee that a
 * knee search on the server under test finds (the same rate for all; with
 * several servers under test, the lowest knee of theirs, so that each can
 * carry it).
 */
export const latencyScenario =
  (opts: FanOutOptions, rate: number | undefined, knees?: ReadonlyArray<FanOutRun>): Scenario => (ctx) =>
    Effect.gen(function*() {
      let fixed = rate
      let how = "as asked"
      const search: Array<FanOutRun> = []
      if (fixed === undefined) {
        let lowest: { readonly server: string; readonly knee: number } | undefined
        for (const subject of subjectsOf(ctx)) {
          const known = knees?.find((k) => k.server === subject.server.name)
          const run = known ?? (yield* fanOutOn(ctx, subject, opts))
          if (known === undefined) search.push(run)
          const knee = run.knee
          if (knee === undefined) return yield* Effect.dieMessage(`no knee found on ${run.server}: nothing passed`)
          if (lowest === undefined || knee < lowest.knee) lowest = { server: run.server, knee }
        }
        if (lowest === undefined) return yield* Effect.dieMessage("latency: no server to measure")
        fixed = Math.max(1, Math.round(lowest.knee / 2))
        how = `half of ${lowest.server}'s knee ${lowest.knee} msg/s`
      }
      const rateUsed = fixed
      const runs: ReadonlyArray<LatencyRun> = yield* onEach(ctx, (t) => latencyOn(ctx, t, opts, rateUsed))
      return {
        figures: latencyFigures(runs, opts, how, [...(knees ?? []), ...search]),
        details: { [`latency R=${opts.receivers}`]: runs, search }
      }
    })

/** rooms on each Parley, beside the single-room fan-out on it and on the baseline. */
export const roomsScenario = onEachTarget(() => "rooms", roomsOn, roomsFigures)

export const idleScenario = onEachTarget(() => "idle", idleOn, idleFigures)

export const durableScenario = onEachTarget(() => "durable", durableOn, durableFigures)

export const loginScenario = onEachTarget(() => "login", loginOn, loginFigures)

export const addressFloodScenario = (opts: AddressFloodOptions): Scenario => (ctx) =>
  Effect.map(
    onEach(ctx, (t) => addressFloodOn(ctx, t, opts)),
    (runs: ReadonlyArray<ReadonlyArray<AddressFloodRun>>) => ({
      figures: addressFloodFigures(runs.flat(), opts),
      details: { "login flood": runs.flat() }
    })
  )

/** The suite: fan-out at each R, latency at half the subject's knee, durable, login, idle + reconnect. */
export const suiteScenario = (sizes: {
  readonly fanOut: ReadonlyArray<FanOutOptions>
  readonly latencyReceivers: ReadonlyArray<number>
  readonly durable: DurableOptions
  readonly login: LoginOptions
  readonly idle: IdleOptions
}): Scenario =>
(ctx) =>
  Effect.gen(function*() {
    const parts: Array<ScenarioResult> = []
    for (const opts of sizes.fanOut) {
      const fan = yield* fanOutScenario(opts)(ctx)
      parts.push(fan)
      if (sizes.latencyReceivers.includes(opts.receivers)) {
        const knees = Object.values(fan.details)[0] as ReadonlyArray<FanOutRun>
        parts.push(yield* latencyScenario(opts, undefined, knees)(ctx))
      }
    }
    parts.push(yield* durableScenario(sizes.durable)(ctx))
    parts.push(yield* loginScenario(sizes.login)(ctx))
    // last: it restarts the servers
    parts.push(yield* idleScenario(sizes.idle)(ctx))
    return {
      figures: parts.flatMap((p) => p.figures),
      details: Object.assign({}, ...parts.map((p) => p.details))
    }
  })

/** The commit the measured server came from, `+dirty` when its files differ from it. */
const serverVersion = (): string => {
  try {
    const git = (...args: Array<string>) => execFileSync("git", args, { cwd: repoRoot, encoding: "utf8" }).trim()
    const head = git("rev-parse", "--short", "HEAD")
    return git("status", "--porcelain", "--", "packages/server", "packages/protocol") === "" ? head : `${head}+dirty`
  } catch {
    return "unknown"
  }
}

const machine = () => ({
  cores: cpus().length,
  cpu: cpus()[0]?.model ?? "unknown",
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  platform: `${process.platform} ${process.arch}`,
  /** 1-minute load average: on a shared machine, how much else was running. */
  load: Number(loadavg()[0]!.toFixed(2))
})

/** Starts the servers, runs the scenario, prints the table (or JSON), stops everything. */
export const runBench = (name: string, options: RunOptions, scenario: Scenario) =>
  Effect.scoped(
    Effect.gen(function*() {
      const progress = makeProgress()
      const { accounts, runId, sink } = makeAccounts(ACCOUNTS)
      const servers: Array<ManagedServer> = []
      const external = options.host !== undefined || options.port !== undefined
      const nodeArgs = options.cpuProf === undefined ? [] : ["--cpu-prof", "--cpu-prof-dir", options.cpuProf]
      if (external && options.backends.length > 0) {
        return yield* new ServerError({
          reason: "--db is for the Parley server the bench starts, not for a --host/--port target"
        })
      }
      const nodes = options.nodes ?? 1
      if (nodes < 1 || (nodes > 1 && !options.backends.some((b) => b.kind === "postgres"))) {
        return yield* new ServerError({
          reason: nodes < 1
            ? "--nodes must be 1 or more"
            : "--nodes needs --db postgres://… (the nodes of a cluster share one PostgreSQL database)"
        })
      }
      if (options.servers !== "parley") {
        progress.update("starting the baseline server")
        servers.push(yield* acquireServer({ kind: "baseline", host: "127.0.0.1", port: 0, nodeArgs }))
      }
      if (options.servers !== "baseline") {
        if (external) {
          servers.push(
            yield* acquireServer({
              kind: "external",
              host: options.host ?? "127.0.0.1",
              port: options.port ?? 5555,
              pid: options.pid
            })
          )
        } else if (existsSync(serverBin)) {
          for (const backend of options.backends.length > 0 ? options.backends : [sqlite]) {
            progress.update(
              `starting Parley on ${backend.kind === "sqlite" ? "SQLite" : "PostgreSQL (a fresh database)"}`
            )
            for (const transport of options.transport === "ws" ? ["tcp", "ws"] as const : ["tcp"] as const) {
              servers.push(
                yield* acquireServer({
                  kind: "parley",
                  host: "127.0.0.1",
                  port: 0,
                  extraArgs: options.parleyArgs,
                  nodeArgs,
                  backend,
                  abuseLimits: options.abuseLimits ?? "off",
                  transport
                })
              )
            }
            if (nodes > 1 && backend.kind === "postgres") {
              progress.update(
                `starting a ${nodes}-node Parley cluster on PostgreSQL (a fresh database) and ${options.bus}`
              )
              servers.push(
                yield* acquireServer({
                  kind: "parley",
                  host: "127.0.0.1",
                  port: 0,
                  extraArgs: options.parleyArgs,
                  nodeArgs,
                  backend,
                  abuseLimits: options.abuseLimits ?? "off",
                  nodes,
                  bus: options.bus ?? "redis://127.0.0.1:6379"
                })
              )
            }
          }
        } else if (options.servers === "parley") {
          return yield* new ServerError({ reason: `${serverBin} does not exist yet` })
        } else {
          progress.update(`no Parley server at ${serverBin}: measuring the baseline alone`)
        }
      }
      const ctx: BenchContext = {
        scope: yield* Effect.scope,
        generators: [],
        runId,
        accounts,
        sink,
        progress,
        targets: servers.map((server) => ({ server, credentials: undefined, setup: undefined }))
      }
      const started = new Date()
      const loadBefore = machine().load
      const result = yield* scenario(ctx)
      progress.done()
      const subjects = servers.map((s) => s.name).filter((name) => name !== "baseline")
      if (subjects.length === 0) subjects.push("parley")
      const rows = result.figures.map((figure) => toRow(figure, subjects))
      // which store each Parley ran on: figures of different backends sit side by side in docs
      const stores = servers.filter((s) => s.store !== undefined).map((s) => `${s.name} on ${s.store!.description}`)
      if (options.json) {
        const report = {
          bench: name,
          date: started.toISOString(),
          seconds: (Date.now() - started.getTime()) / 1000,
          machine: { ...machine(), loadBefore },
          parley: serverVersion(),
          servers: servers.map((s) => ({ name: s.name, endpoint: s.endpoint, store: s.store?.description })),
          figures: rows,
          details: result.details
        }
        process.stdout.write(JSON.stringify(report, null, 2) + "\n")
      } else {
        const m = machine()
        process.stdout.write(
          `parley bench ${name}: ${started.toISOString()}, ${m.cores} cores (${m.cpu}), node ${m.node}, ${
            ((Date.now() - started.getTime()) / 1000).toFixed(0)
          } s, load average ${loadBefore} → ${m.load}, parley at ${serverVersion()}\n${
            stores.map((line) => `${line}\n`).join("")
          }${
            servers.some((s) => s.spec.backend?.kind === "postgres")
              ? "server CPU is the Parley processes' alone (every node of a cluster together): PostgreSQL's and Redis's own CPU is not in it\n"
              : ""
          }\n${renderTable(rows, subjects)}\n`
        )
      }
      return rows
    })
  )
