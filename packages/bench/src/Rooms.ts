/**
 * rooms: U users in K public rooms (each user in M of them, protocol v1.2),
 * every user online on one connection that opted in to room traffic, and
 * messages to random rooms, each from a random member of the room. The knee
 * search of the fan-out runs on it, and deliveries per server CPU-second over
 * the passing steps are set beside the single-room fan-out's (the same knee
 * search, every receiver in `general`) measured on the same server in the
 * same run. The baseline knows no rooms: it runs the single-room part only.
 *
 * Setup is the real protocol throughout: each account is registered and
 * logged in once by password (two argon2 hashes, by far the slowest part),
 * then connected with its token; each room's creator creates it and the other
 * members JOIN. It goes in batches, so that the progress line moves.
 */
import { Effect } from "effect"
import { type BenchContext, labelOf, type Target, withGenerators } from "./Bench.ts"
import { nowUs } from "./Client.ts"
import { efficiency, fanOutFigures, fanOutOn, type FanOutOptions, type FanOutRun, kneeSearch } from "./FanOut.ts"
import { type GeneratorProcess, runJob } from "./GeneratorPool.ts"
import type { Account, Credential } from "./Jobs.ts"
import type { Figure } from "./Report.ts"
import { meanRoomSize, planRooms, type RoomsPlan } from "./RoomsPlan.ts"

export interface RoomsOptions {
  readonly users: number
  readonly rooms: number
  readonly perUser: number
  /** Seed of the membership plan. */
  readonly seed: number
  /** Rounds of (rooms, single room), the order alternating from one round to the next. */
  readonly rounds: number
  /** The single room's messages come from all its connections in turn, as the rooms' come from every user. */
  readonly singleFromAll: boolean
  /** Step settings of both knee searches; its receivers and senders are the single-room fan-out's. */
  readonly fan: FanOutOptions
}

export interface RoomsSetup {
  readonly users: number
  readonly rooms: number
  readonly memberships: number
  readonly meanRoomSize: number
  readonly registerSec: number
  readonly connectSec: number
  readonly joinSec: number
}

export interface RoomsRound {
  /** Undefined on the baseline, which knows no rooms. */
  readonly rooms: FanOutRun | undefined
  readonly single: FanOutRun
}

export interface RoomsRun {
  readonly server: string
  readonly setup: RoomsSetup | undefined
  readonly rounds: ReadonlyArray<RoomsRound>
}

/** Accounts registered per Setup job, connections opened per Open job, users per JoinRooms job. */
const BATCH = 500

const seconds = (fromUs: number) => (nowUs() - fromUs) / 1e6

const rateOf = (done: number, fromUs: number) => `${Math.round(done / Math.max(seconds(fromUs), 1e-3))}/s`

/** The plan of a run: rooms named after the run, so that runs never collide. */
export const roomsPlanOf = (ctx: Pick<BenchContext, "runId">, opts: RoomsOptions): RoomsPlan =>
  planRooms({
    users: opts.users,
    rooms: opts.rooms,
    perUser: opts.perUser,
    seed: opts.seed,
    name: (r) => `r${ctx.runId}_${r}`
  })

/** The scenario's users: accounts of their own, beside the run's 64. */
const usersOf = (ctx: BenchContext, n: number): Array<Account> =>
  Array.from({ length: n }, (_, i) => ({ username: `b${ctx.runId}_u${i}`, password: ctx.sink.password }))

/** Registers the users and logs each in once by password for its token, in batches; tokens in user order. */
const registerUsers = (ctx: BenchContext, target: Target, generator: GeneratorProcess, users: ReadonlyArray<Account>) =>
  Effect.gen(function*() {
    const label = labelOf(target)
    const t0 = nowUs()
    const tokens = new Map<string, string>()
    for (let from = 0; from < users.length; from += BATCH) {
      ctx.progress.update(
        `${label} rooms setup: registering and logging in users ${from}/${users.length} (${
          rateOf(from, t0)
        }, two password hashes each)`
      )
      const batch = users.slice(from, from + BATCH)
      const setup = yield* runJob(generator, {
        _tag: "Setup",
        endpoint: target.server.endpoint,
        accounts: batch,
        register: true,
        concurrency: 8
      })
      for (const c of setup.credentials) tokens.set(c.username, c.token)
      const missing = batch.filter((a) => !tokens.has(a.username)).length
      if (missing > 0) {
        return yield* Effect.dieMessage(
          `${label}: ${missing} of ${batch.length} users could not register or log in: ${JSON.stringify(setup.errors)}`
        )
      }
    }
    return users.map((a): Credential => ({ username: a.username, token: tokens.get(a.username)! }))
  })

/** Opens one opted-in connection per user, in user order (connection u is user u's). */
const connectUsers = (
  ctx: BenchContext,
  target: Target,
  generator: GeneratorProcess,
  credentials: ReadonlyArray<Credential>
) =>
  Effect.gen(function*() {
    const label = labelOf(target)
    const t0 = nowUs()
    for (let from = 0; from < credentials.length; from += BATCH) {
      ctx.progress.update(
        `${label} rooms setup: connecting users with "rooms": true ${from}/${credentials.length} (${rateOf(from, t0)})`
      )
      const batch = credentials.slice(from, from + BATCH)
      const opened = yield* runJob(generator, {
        _tag: "Open",
        endpoint: target.server.endpoint,
        credentials: batch,
        count: batch.length,
        role: "member",
        concurrency: 64,
        rooms: true
      })
      if (opened.failed > 0) {
        return yield* Effect.dieMessage(
          `${label}: ${opened.failed} users failed to connect: ${JSON.stringify(opened.errors)}`
        )
      }
    }
  })

/** The creators create the rooms, then everyone joins the rest of theirs. */
const joinUsers = (ctx: BenchContext, target: Target, generator: GeneratorProcess, plan: RoomsPlan) =>
  Effect.gen(function*() {
    const label = labelOf(target)
    const rooms = plan.names.length
    const joins = plan.roomsOf.reduce((n, rs) => n + rs.length, 0) - rooms
    const t0 = nowUs()
    let created = 0
    let joined = 0
    const check = (r: { readonly errors: Record<string, number> }) =>
      Object.keys(r.errors).length === 0
        ? Effect.void
        : Effect.dieMessage(`${label}: rooms setup failed: ${JSON.stringify(r.errors)}`)
    for (let from = 0; from < rooms; from += BATCH) {
      ctx.progress.update(`${label} rooms setup: creating rooms ${from}/${rooms} (${rateOf(from, t0)})`)
      const r = yield* runJob(generator, {
        _tag: "JoinRooms",
        roomFrom: from,
        roomTo: Math.min(rooms, from + BATCH),
        userFrom: 0,
        userTo: 0,
        concurrency: 64
      })
      yield* check(r)
      created += r.created
    }
    const t1 = nowUs()
    for (let from = 0; from < plan.users; from += BATCH) {
      ctx.progress.update(`${label} rooms setup: joining rooms ${joined}/${joins} (${rateOf(joined, t1)})`)
      const r = yield* runJob(generator, {
        _tag: "JoinRooms",
        roomFrom: 0,
        roomTo: 0,
        userFrom: from,
        userTo: Math.min(plan.users, from + BATCH),
        concurrency: 64
      })
      yield* check(r)
      joined += r.joined
    }
    if (created !== rooms || joined !== joins) {
      return yield* Effect.dieMessage(
        `${label}: created ${created} of ${rooms} rooms and made ${joined} of ${joins} joins`
      )
    }
  })

/** The rooms knee search on one Parley: connects the users (and, the first time, makes the rooms), then steps. */
const roomsKnee = (
  ctx: BenchContext,
  target: Target,
  opts: RoomsOptions,
  plan: RoomsPlan,
  credentials: ReadonlyArray<Credential>,
  makeRooms: boolean
) =>
  withGenerators(ctx, 1, ([generator]) =>
    Effect.gen(function*() {
      const t0 = nowUs()
      yield* connectUsers(ctx, target, generator!, credentials)
      const connectSec = seconds(t0)
      yield* runJob(generator!, {
        _tag: "RoomsPlan",
        names: plan.names,
        members: plan.members,
        roomsOf: plan.roomsOf,
        creators: plan.creators
      })
      const t1 = nowUs()
      if (makeRooms) yield* joinUsers(ctx, target, generator!, plan)
      const joinSec = seconds(t1)
      const run = yield* kneeSearch(ctx, target, generator!, opts.fan, {
        label: `rooms U=${opts.users} K=${opts.rooms}`,
        mode: "rooms",
        audience: Math.max(1, meanRoomSize(plan) - 1)
      })
      return { run, connectSec, joinSec }
    }))

/** Every round on one server: on Parley the rooms part and the single-room part, on the baseline the latter. */
export const roomsOn = (ctx: BenchContext, target: Target, opts: RoomsOptions) =>
  Effect.gen(function*() {
    const rounds: Array<RoomsRound> = []
    if (target.server.name === "baseline") {
      for (let i = 0; i < opts.rounds; i++) {
        rounds.push({ rooms: undefined, single: yield* fanOutOn(ctx, target, opts.fan, opts.singleFromAll) })
      }
      return { server: labelOf(target), setup: undefined, rounds } satisfies RoomsRun
    }
    const plan = roomsPlanOf(ctx, opts)
    const t0 = nowUs()
    const credentials = yield* withGenerators(ctx, 1, ([generator]) =>
      registerUsers(ctx, target, generator!, usersOf(ctx, opts.users)))
    const registerSec = seconds(t0)
    let setup: RoomsSetup | undefined
    for (let i = 0; i < opts.rounds; i++) {
      const roomsFirst = i % 2 === 0
      let single: FanOutRun | undefined
      if (!roomsFirst) {
        single = yield* fanOutOn(ctx, target, opts.fan, opts.singleFromAll)
      }
      const knee = yield* roomsKnee(ctx, target, opts, plan, credentials, setup === undefined)
      setup ??= {
        users: opts.users,
        rooms: opts.rooms,
        memberships: plan.roomsOf.reduce((n, rs) =>
          n + rs.length, 0),
        meanRoomSize: meanRoomSize(plan),
        registerSec,
        connectSec: knee.connectSec,
        joinSec: knee.joinSec
      }
      if (roomsFirst) {
        single = yield* fanOutOn(ctx, target, opts.fan, opts.singleFromAll)
      }
      rounds.push({ rooms: knee.run, single: single! })
    }
    return { server: labelOf(target), setup, rounds } satisfies RoomsRun
  })

/** rooms / single room, in percent (NaN when either is missing). */
export const roomsShare = (round: RoomsRound): number =>
  round.rooms === undefined ? NaN : (100 * round.rooms.deliveriesPerCpuSec) / round.single.deliveriesPerCpuSec

/**
 * Deliveries per server CPU-second over every passing step of every round,
 * rooms and single room each pooled: where one round's knee search lands a
 * doubling higher or lower (the knees of one server moved by a factor of 2
 * to 3 between rounds on a quiet machine), the pooled figure weighs each
 * round by the work it measured instead of by its luck.
 */
export const pooledShare = (rounds: ReadonlyArray<RoomsRound>) => {
  const rooms = efficiency(rounds.flatMap((r) => r.rooms?.steps ?? []))
  const single = efficiency(rounds.flatMap((r) => r.single.steps))
  return { rooms, single, share: (100 * rooms) / single }
}

/** The figures of every round: the rooms knee, the single-room fan-out's (with the baseline), and their ratio. */
export const roomsFigures = (runs: ReadonlyArray<RoomsRun>, opts: RoomsOptions): Array<Figure> => {
  const figures: Array<Figure> = []
  const setup = runs.find((r) => r.setup !== undefined)?.setup
  for (let i = 0; i < opts.rounds; i++) {
    const suffix = opts.rounds > 1 ? ` #${i + 1}` : ""
    const scenario = `rooms U=${opts.users} K=${opts.rooms} M=${opts.perUser}${suffix}`
    const withRooms = runs.filter((r) => r.rounds[i]?.rooms !== undefined)
    const value = (f: (round: RoomsRound) => number | undefined) =>
      Object.fromEntries(withRooms.map((r) => [r.server, f(r.rounds[i]!)]))
    const singles = runs.flatMap((
      r
    ) => (r.rounds[i] === undefined ? [] : [{ ...r.rounds[i]!.single, server: r.server }]))
    const single = fanOutFigures(singles, opts.fan).map((f) => ({
      ...f,
      scenario: `${f.scenario} (single room${opts.singleFromAll ? ", from all" : ""})${suffix}`
    }))
    const rooms: Array<Figure> = [
      { scenario, metric: "knee rate", unit: "msg/s", values: value((r) => r.rooms?.knee) },
      { scenario, metric: "deliveries at knee", unit: "/s", values: value((r) => r.rooms?.kneeStep?.deliveriesPerSec) },
      {
        scenario,
        metric: "deliveries per server CPU-s",
        unit: "/cpu-s",
        values: value((r) => r.rooms?.deliveriesPerCpuSec),
        note: setup === undefined || i > 0 ?
          undefined :
          `${setup.memberships} memberships, ${
            setup.meanRoomSize.toFixed(1)
          } members a room on average; over every step that passed; setup: ${
            setup.registerSec.toFixed(0)
          } s registering and logging in, ${setup.connectSec.toFixed(0)} s connecting, ${
            setup.joinSec.toFixed(0)
          } s creating and joining rooms`
      },
      {
        scenario,
        metric: "of the single room's deliveries per server CPU-s",
        unit: "%",
        values: value(roomsShare),
        // with several rounds the target is the pooled figure's (below)
        ...(opts.rounds > 1 ? {} : { target: { kind: "atLeast", value: 80 } as const })
      }
    ]
    figures.push(...(i % 2 === 0 ? [...rooms, ...single] : [...single, ...rooms]))
  }
  if (opts.rounds > 1) {
    const withRooms = runs.filter((r) => r.rounds.some((round) => round.rooms !== undefined))
    const pooled = Object.fromEntries(withRooms.map((r) => [r.server, pooledShare(r.rounds)]))
    const value = (f: (p: ReturnType<typeof pooledShare>) => number) =>
      Object.fromEntries(Object.entries(pooled).map(([server, p]) => [server, f(p)]))
    const scenario = `rooms U=${opts.users} K=${opts.rooms} M=${opts.perUser}, ${opts.rounds} rounds pooled`
    figures.push(
      { scenario, metric: "rooms: deliveries per server CPU-s", unit: "/cpu-s", values: value((p) => p.rooms) },
      {
        scenario,
        metric: "single room: deliveries per server CPU-s",
        unit: "/cpu-s",
        values: value((p) => p.single)
      },
      {
        scenario,
        metric: "of the single room's deliveries per server CPU-s",
        unit: "%",
        values: value((p) => p.share),
        target: { kind: "atLeast", value: 80 },
        note: "every passing step of every round, rooms and single room each summed (deliveries over server CPU)"
      }
    )
  }
  return figures
}
