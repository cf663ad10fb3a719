/**
 * The command line of `pnpm bench`: the quick suite with no scenario, or one
 * scenario, each with `--help`. `bin.ts` is its entry point.
 */
import { Command, HelpDoc, Options } from "@effect/cli"
import { Console, Effect, Option } from "effect"
import { resolve } from "node:path"
import { type Backend, parseBackends } from "./Backend.ts"
import { startBaseline } from "./Baseline.ts"
import type { DurableOptions } from "./DurableSend.ts"
import type { FanOutOptions } from "./FanOut.ts"
import { serveOverIpc } from "./Generator.ts"
import type { IdleOptions } from "./Idle.ts"
import type { LoginOptions } from "./LoginStorm.ts"
import type { RoomsOptions } from "./Rooms.ts"
import { runSoak } from "./Soak.ts"
import {
  addressFloodScenario,
  durableScenario,
  fanOutScenario,
  idleScenario,
  latencyScenario,
  loginScenario,
  roomsScenario,
  runBench,
  type RunOptions,
  suiteScenario
} from "./Suite.ts"

// ---- options shared by every scenario ----
const common = {
  json: Options.boolean("json").pipe(
    Options.withDescription("print the report as JSON on stdout (the progress line stays on stderr)")
  ),
  full: Options.boolean("full").pipe(
    Options.withDescription("the issue's full sizes (10,000 idle connections, longer steps) instead of the quick ones")
  ),
  host: Options.text("host").pipe(
    Options.optional,
    Options.withDescription("measure the protocol-v1 server at this host instead of starting Parley")
  ),
  port: Options.integer("port").pipe(
    Options.optional,
    Options.withDescription("measure the protocol-v1 server on this port instead of starting Parley")
  ),
  pid: Options.integer("pid").pipe(
    Options.optional,
    Options.withDescription("pid of the --host/--port server, for its CPU and RSS from /proc")
  ),
  servers: Options.choice("servers", ["both", "parley", "baseline"]).pipe(
    Options.withDefault("both" as const),
    Options.withDescription("which servers to measure (both: the baseline, then Parley or the target)")
  ),
  cpuProf: Options.directory("cpu-prof").pipe(
    Options.optional,
    Options.withDescription("write a V8 CPU profile (.cpuprofile) of each server it starts into this directory")
  ),
  db: Options.text("db").pipe(
    Options.repeated,
    Options.mapTryCatch(parseBackends, (e) => HelpDoc.p(e instanceof Error ? e.message : String(e))),
    Options.withDescription(
      "where the Parley server it starts stores: sqlite (the default: a fresh temp file) or a postgres:// URL, " +
        "used as an admin URL: a fresh database parley_bench_<random> is created on that PostgreSQL server for each " +
        "Parley server and dropped when it stops (the URL's role needs CREATEDB; its password is never printed). " +
        "Repeat it to measure both in one run, e.g. --db sqlite --db postgres://postgres@127.0.0.1:5432/postgres: " +
        "Parley is then started once per backend, its figures as parley (SQLite) and parley-pg (PostgreSQL)"
    )
  ),
  parleyArgs: Options.text("parley-arg").pipe(
    Options.repeated,
    Options.withDescription(
      "an extra flag for the Parley server it starts (repeatable), e.g. --parley-arg=--msg-burst=1000"
    )
  ),
  nodes: Options.integer("nodes").pipe(
    Options.withDefault(1),
    Options.withDescription(
      "also measure Parley as a cluster of this many nodes (one PostgreSQL database, the --bus Redis), " +
        "beside one Parley on PostgreSQL in the same run; clients are spread over the nodes, and server CPU " +
        "is every node's together (needs --db postgres://…)"
    )
  ),
  bus: Options.text("bus").pipe(
    Options.withDefault("redis://127.0.0.1:6379"),
    Options.withDescription("the Redis the --nodes cluster uses as its bus")
  )
}

type Common = {
  readonly json: boolean
  readonly full: boolean
  readonly host: Option.Option<string>
  readonly port: Option.Option<number>
  readonly pid: Option.Option<number>
  readonly servers: "both" | "parley" | "baseline"
  readonly parleyArgs: ReadonlyArray<string>
  readonly db: ReadonlyArray<Backend>
  readonly cpuProf: Option.Option<string>
  readonly nodes: number
  readonly bus: string
}

const runOptions = (c: Common): RunOptions => ({
  json: c.json,
  host: Option.getOrUndefined(c.host),
  port: Option.getOrUndefined(c.port),
  pid: Option.getOrUndefined(c.pid),
  servers: c.servers,
  parleyArgs: c.parleyArgs,
  backends: c.db,
  cpuProf: Option.getOrUndefined(Option.map(c.cpuProf, (dir) => resolve(dir))),
  nodes: c.nodes,
  bus: c.bus
})

/** `--transport` of the scenarios that can measure WebSocket connections. */
const transportFlag = {
  transport: Options.choice("transport", ["tcp", "ws"]).pipe(
    Options.withDefault("tcp" as const),
    Options.withDescription(
      "ws: also measure Parley with its --web-port on and the receivers (fan-out) or the idle connections on " +
        "WebSocket, as parley-ws beside parley (TCP) in the same run; senders stay on TCP"
    )
  )
}

const optInt = (name: string, description: string) =>
  Options.integer(name).pipe(Options.optional, Options.withDescription(description))
const optFloat = (name: string, description: string) =>
  Options.float(name).pipe(Options.optional, Options.withDescription(description))

/** A flag's value, else the quick or the full default. */
const pick = <A>(o: Option.Option<A>, full: boolean, quick: A, fullValue: A): A =>
  Option.getOrElse(o, () => (full ? fullValue : quick))

// ---- sizes: quick (the default, under ~3 minutes in all) and full ----
const fanOutFlags = {
  receivers: Options.text("receivers").pipe(
    Options.withDefault("100,1000"),
    Options.withDescription("receiver counts R to run, comma-separated")
  ),
  senders: Options.integer("senders").pipe(Options.withDefault(10), Options.withDescription("sender connections S")),
  stepSeconds: optFloat("step-seconds", "seconds each rate is offered (quick 1, full 3)"),
  drainSeconds: optFloat(
    "drain-seconds",
    "how long a step waits for stragglers before counting them lost (quick 1, full 3)"
  ),
  textBytes: Options.integer("text-bytes").pipe(Options.withDefault(100), Options.withDescription("message text size")),
  maxP99: Options.float("max-p99-ms").pipe(
    Options.withDefault(50),
    Options.withDescription("a step fails past this p99")
  ),
  refine: optInt("refine", "bisection steps once the ramp is over (quick 1, full 4)"),
  retries: optInt(
    "retries",
    "runs again a step that failed on p99 alone, to ride out the machine's hiccups (quick 1, full 2)"
  ),
  startRate: optInt("start-rate", "first rate in msg/s (default: 20,000 deliveries/s worth)"),
  maxRate: Options.integer("max-rate").pipe(
    Options.withDefault(200_000),
    Options.withDescription("never offer more msg/s")
  ),
  latencySeconds: optFloat("latency-seconds", "length of a latency run (quick 3, full 10)"),
  kneeWarmupSeconds: optFloat(
    "knee-warmup-seconds",
    "seconds each server carries 80,000 deliveries/s worth before its knee search, not counted, so that the search measures compiled code rather than the JIT (quick 2, full 3; 0: none)"
  ),
  warmupSeconds: optFloat(
    "warmup-seconds",
    "seconds a latency run offers its rate before it measures, to read the steady state (quick 1, full 2); the warm-up's own p99 is reported in the note"
  )
}

type FanFlags = {
  readonly receivers: string
  readonly senders: number
  readonly stepSeconds: Option.Option<number>
  readonly drainSeconds: Option.Option<number>
  readonly textBytes: number
  readonly maxP99: number
  readonly refine: Option.Option<number>
  readonly retries: Option.Option<number>
  readonly startRate: Option.Option<number>
  readonly maxRate: number
  readonly latencySeconds: Option.Option<number>
  readonly kneeWarmupSeconds: Option.Option<number>
  readonly warmupSeconds: Option.Option<number>
}

const fanOutOptions = (f: FanFlags, full: boolean): Array<FanOutOptions> =>
  f.receivers.split(",").map((r) => r.trim()).filter((r) => r.length > 0).map((r) => ({
    receivers: Number(r),
    senders: f.senders,
    stepMs: pick(f.stepSeconds, full, 1, 3) * 1000,
    drainMs: pick(f.drainSeconds, full, 1, 3) * 1000,
    textBytes: f.textBytes,
    maxP99Ms: f.maxP99,
    refineSteps: pick(f.refine, full, 1, 4),
    retries: pick(f.retries, full, 1, 2),
    startRate: Option.getOrUndefined(f.startRate),
    maxRate: f.maxRate,
    latencySeconds: pick(f.latencySeconds, full, 3, 10),
    kneeWarmupSeconds: pick(f.kneeWarmupSeconds, full, 2, 3),
    warmupSeconds: pick(f.warmupSeconds, full, 1, 2)
  }))

const idleFlags = {
  connections: optInt("connections", "connections to hold (quick 5,000, full 10,000)"),
  generators: Options.integer("generators").pipe(
    Options.withDefault(1),
    Options.withDescription("generator processes to spread the connections over")
  ),
  concurrency: Options.integer("concurrency").pipe(
    Options.withDefault(256),
    Options.withDescription("connects in flight per generator")
  ),
  settleSeconds: Options.float("settle-seconds").pipe(
    Options.optional,
    Options.withDescription(
      "how long RSS is watched before the connections and after each half of them (quick 5, full 60); the lowest reading counts: " +
        "V8 gives back the logins' garbage only 10-40 s after they end"
    )
  )
}

type IdleFlags = {
  readonly connections: Option.Option<number>
  readonly generators: number
  readonly concurrency: number
  readonly settleSeconds: Option.Option<number>
}

const idleOptions = (f: IdleFlags, full: boolean, reconnect: boolean): IdleOptions => ({
  connections: pick(f.connections, full, 5_000, 10_000),
  generators: f.generators,
  concurrency: f.concurrency,
  settleMs: pick(f.settleSeconds, full, 5, 60) * 1000,
  reconnect,
  reconnectDeadlineMs: 120_000
})

const durableFlags = {
  durableSenders: Options.integer("durable-senders").pipe(
    Options.withDefault(50),
    Options.withDescription("concurrent senders")
  ),
  window: Options.integer("window").pipe(
    Options.withDefault(1),
    Options.withDescription("messages in flight per sender")
  ),
  durableSeconds: optFloat("durable-seconds", "how long they send (quick 3, full 10)")
}

type DurableFlags = {
  readonly durableSenders: number
  readonly window: number
  readonly durableSeconds: Option.Option<number>
}

const durableOptions = (f: DurableFlags, full: boolean): DurableOptions => ({
  senders: f.durableSenders,
  window: f.window,
  seconds: pick(f.durableSeconds, full, 3, 10),
  textBytes: 100
})

const loginFlags = {
  clients: Options.integer("clients").pipe(
    Options.withDefault(16),
    Options.withDescription("concurrent login clients")
  ),
  loginSeconds: optFloat(
    "login-seconds",
    "how long the storm lasts (quick 3, full 10; with --addresses quick 10, full 30)"
  )
}

type LoginFlags = { readonly clients: number; readonly loginSeconds: Option.Option<number> }

const loginOptions = (f: LoginFlags, full: boolean): LoginOptions => ({
  clients: f.clients,
  seconds: pick(f.loginSeconds, full, 3, 10)
})

const roomsFlags = {
  users: optInt(
    "users",
    "users, each online on one connection that opted in to room traffic (quick 500, full 10,000)"
  ),
  rooms: optInt("rooms", "public rooms (quick 50, full 1,000)"),
  perUser: Options.integer("rooms-per-user").pipe(
    Options.withDefault(5),
    Options.withDescription("distinct rooms each user joins, dealt so that rooms come out about the same size")
  ),
  singleReceivers: optInt(
    "single-receivers",
    "receivers R of the single-room fan-out the rooms figure is set beside (default: as many as --users)"
  ),
  singleFromAll: Options.boolean("single-from-all").pipe(
    Options.withDescription(
      "the single room's messages come from all its R + S connections in turn, as the rooms' come from every user " +
        "(default: from the S senders, as in fan-out)"
    )
  ),
  rounds: Options.integer("rounds").pipe(
    Options.withDefault(1),
    Options.withDescription(
      "measure rooms and the single room this many times, alternating which goes first (the accounts and rooms are made once)"
    )
  ),
  seed: Options.integer("seed").pipe(
    Options.withDefault(1),
    Options.withDescription("seed of who is in which room")
  ),
  senders: fanOutFlags.senders,
  stepSeconds: fanOutFlags.stepSeconds,
  drainSeconds: fanOutFlags.drainSeconds,
  textBytes: fanOutFlags.textBytes,
  maxP99: fanOutFlags.maxP99,
  refine: fanOutFlags.refine,
  retries: fanOutFlags.retries,
  maxRate: fanOutFlags.maxRate,
  kneeWarmupSeconds: fanOutFlags.kneeWarmupSeconds
}

type RoomsFlags = Omit<FanFlags, "receivers" | "startRate" | "latencySeconds" | "warmupSeconds"> & {
  readonly users: Option.Option<number>
  readonly rooms: Option.Option<number>
  readonly perUser: number
  readonly singleReceivers: Option.Option<number>
  readonly singleFromAll: boolean
  readonly rounds: number
  readonly seed: number
}

const roomsOptions = (f: RoomsFlags, full: boolean): RoomsOptions => {
  const users = pick(f.users, full, 500, 10_000)
  return {
    users,
    rooms: pick(f.rooms, full, 50, 1_000),
    perUser: f.perUser,
    seed: f.seed,
    singleFromAll: f.singleFromAll,
    rounds: Math.max(1, f.rounds),
    fan: fanOutOptions({
      ...f,
      receivers: String(Option.getOrElse(f.singleReceivers, () => users)),
      startRate: Option.none(),
      latencySeconds: Option.none(),
      warmupSeconds: Option.none()
    }, full)[0]!
  }
}

// ---- commands ----
const bench = Command.make(
  "bench",
  { ...common, ...fanOutFlags, ...idleFlags, ...durableFlags, ...loginFlags },
  (o) =>
    runBench(
      o.full ? "full suite" : "quick suite",
      runOptions(o),
      suiteScenario({
        fanOut: fanOutOptions(o, o.full),
        latencyReceivers: o.full ? [100, 1000] : [100],
        durable: durableOptions(o, o.full),
        login: loginOptions(o, o.full),
        idle: idleOptions(o, o.full, true)
      })
    )
).pipe(
  Command.withDescription(
    "Parley's benchmark: with no scenario, the quick suite (fan-out at R=100 and R=1000, latency, durable send, " +
      "login storm, idle + reconnect storm at reduced sizes), every figure beside a bare-Node baseline measured in " +
      "the same run. --full runs the issue's sizes. --db postgres://... runs Parley on PostgreSQL instead of SQLite " +
      "(or, repeated, on both)."
  )
)

const fanOut = Command.make(
  "fan-out",
  {
    ...common,
    ...fanOutFlags,
    ...transportFlag,
    rounds: Options.integer("rounds").pipe(
      Options.withDefault(1),
      Options.withDescription(
        "run each server's knee search this many times, alternating the servers' order, and pool the rounds " +
          "(every passing step of every round; the median round's knee)"
      )
    )
  },
  (o) =>
    Effect.forEach(
      fanOutOptions(o, o.full),
      (opts) =>
        runBench(
          `fan-out R=${opts.receivers}`,
          { ...runOptions(o), transport: o.transport },
          fanOutScenario(opts, Math.max(1, o.rounds))
        ),
      { discard: true }
    )
).pipe(
  Command.withDescription(
    "R receivers, S senders, 100-byte messages, the rate stepped up until p99 > 50 ms or a loss: the knee"
  )
)

const latency = Command.make(
  "latency",
  {
    ...common,
    ...fanOutFlags,
    rate: optInt("rate", "a fixed rate in msg/s (default: half the knee found on the server under test)")
  },
  (o) =>
    Effect.forEach(
      fanOutOptions(o, o.full),
      (opts) =>
        runBench(`latency R=${opts.receivers}`, runOptions(o), latencyScenario(opts, Option.getOrUndefined(o.rate))),
      {
        discard: true
      }
    )
).pipe(Command.withDescription("p50 / p99 / p99.9 send→receipt at a fixed rate (half the knee unless --rate)"))

const rooms = Command.make(
  "rooms",
  { ...common, ...roomsFlags },
  (o) => {
    const opts = roomsOptions(o, o.full)
    return runBench(`rooms U=${opts.users} K=${opts.rooms}`, runOptions(o), roomsScenario(opts))
  }
).pipe(
  Command.withDescription(
    "U users in K public rooms, each user in --rooms-per-user of them (quick 500 in 50, --full 10,000 in 1,000, " +
      "5 each: about 50 members a room in both), every user online on one connection that opted in to room traffic; messages go to random rooms, each " +
      "from a random member. The fan-out's knee search (the same steps, p99 and loss rules) runs on it, and its " +
      "deliveries per server CPU-second are set beside the single-room fan-out's (R = U receivers and S senders, " +
      "every message to general) measured on the same server in the same run; target: at least 80 %. Deliveries " +
      "are counted connection by connection from what arrived: each message is owed to every member's connection " +
      "but the sender's, and a delivery anywhere else fails the step. Setup uses the protocol: each user REGISTERs " +
      "and logs in once by password (two argon2 hashes each, about 9 ms of a 2-core machine: 3 minutes for 10,000 users), " +
      "then connects with its token; room creators ROOM_CREATE, the others JOIN. The baseline knows no rooms and " +
      "runs the single-room part only."
  )
)

const idle = Command.make(
  "idle",
  { ...common, ...idleFlags, ...transportFlag },
  (o) => runBench("idle", { ...runOptions(o), transport: o.transport }, idleScenario(idleOptions(o, o.full, false)))
).pipe(
  Command.withDescription("hold N authenticated idle connections: server RSS per connection, connect+login rate")
)

const reconnect = Command.make(
  "reconnect",
  { ...common, ...idleFlags },
  (o) => runBench("reconnect", runOptions(o), idleScenario(idleOptions(o, o.full, true)))
).pipe(
  Command.withDescription("idle, then restart the server: time until every client is back with its token")
)

const durable = Command.make(
  "durable",
  { ...common, ...durableFlags },
  (o) => runBench("durable send", runOptions(o), durableScenario(durableOptions(o, o.full)))
).pipe(
  Command.withDescription("S concurrent senders, closed loop: durable ACKs per second")
)

/** `--addresses 1,64` as numbers. */
const parseAddresses = (text: string): Array<number> =>
  text.split(",").map((a) => a.trim()).filter((a) => a.length > 0).map((a) => {
    const n = Number(a)
    if (!Number.isInteger(n) || n < 1 || n > 254) throw new Error(`--addresses: ${a} is not a whole number 1..254`)
    return n
  })

const login = Command.make(
  "login",
  {
    ...common,
    ...loginFlags,
    addresses: Options.text("addresses").pipe(
      Options.mapTryCatch(parseAddresses, (e) => HelpDoc.p(e instanceof Error ? e.message : String(e))),
      Options.optional,
      Options.withDescription(
        "run the login flood instead, once per address count given (e.g. 1,64): Parley with its DEFAULT abuse limits, " +
          "max(--clients, N) flood connections from 127.0.0.1 … 127.0.0.N logging in by password (every 2nd a wrong guess), " +
          "a legitimate user logging in again and again from 127.0.1.1, a side PING from 127.0.1.2; reports the legitimate " +
          "login time, flood logins/s, RATE_LIMITED replies and the event-loop delay"
      )
    )
  },
  (o) =>
    Option.match(o.addresses, {
      onNone: () => runBench("login storm", runOptions(o), loginScenario(loginOptions(o, o.full))),
      onSome: (addresses) =>
        runBench(
          "login flood",
          { ...runOptions(o), abuseLimits: "default" },
          addressFloodScenario({ addresses, clients: o.clients, seconds: pick(o.loginSeconds, o.full, 10, 30) })
        )
    })
).pipe(
  Command.withDescription(
    "password logins per second, and a side PING's round trip (the event-loop delay) meanwhile; with --addresses, " +
      "the login flood from many addresses against the default abuse limits"
  )
)

const baseline = Command.make(
  "baseline",
  {
    host: Options.text("host").pipe(Options.withDefault("127.0.0.1")),
    port: Options.integer("port").pipe(Options.withDefault(5556))
  },
  ({ host, port }) =>
    Effect.gen(function*() {
      const server = yield* Effect.promise(() => startBaseline(host, port))
      yield* Console.log(`parley-baseline listening on ${host}:${server.port}`)
      yield* Effect.addFinalizer(() => Effect.promise(() => server.shutdown()))
      return yield* Effect.never
    }).pipe(Effect.scoped)
).pipe(
  Command.withDescription("run the baseline server alone (plain node:net NDJSON broadcast, no persistence, no auth)")
)

const soak = Command.make(
  "soak",
  {
    minutes: Options.float("minutes").pipe(
      Options.withDefault(10),
      Options.withDescription("how long the soak runs, warm-up included")
    ),
    churn: Options.integer("churn").pipe(
      Options.withDefault(8),
      Options.withDescription(
        "churn lanes, each looping connect → login → 3 MSGs → maybe HISTORY → DISCONNECT or close"
      )
    ),
    steady: Options.integer("steady").pipe(
      Options.withDefault(4),
      Options.withDescription("long-lived clients, each sending a MSG every 200 ms and receiving everyone's")
    ),
    warmupSeconds: optFloat(
      "warmup-seconds",
      "seconds before the first reading (default: a fifth of the run, 20 to 60 s)"
    ),
    maxGrowth: Options.float("max-growth").pipe(
      Options.withDefault(10),
      Options.withDescription(
        "percent of growth of the server's RSS, heap in use or open descriptors, from the first reading to the last, past which the soak fails"
      )
    ),
    settleSeconds: Options.float("settle-seconds").pipe(
      Options.withDefault(20),
      Options.withDescription(
        "seconds the server's RSS and heap are watched, churn paused, at each of the two readings (the lowest counts)"
      )
    ),
    progressSeconds: Options.float("progress-seconds").pipe(
      Options.withDefault(30),
      Options.withDescription("seconds between progress lines")
    ),
    parleyArgs: common.parleyArgs
  },
  (o) =>
    runSoak({
      minutes: o.minutes,
      churn: o.churn,
      steady: o.steady,
      warmupSeconds: Option.getOrElse(o.warmupSeconds, () => Math.min(60, Math.max(20, (o.minutes * 60) / 5))),
      settleSeconds: o.settleSeconds,
      maxGrowthPercent: o.maxGrowth,
      progressSeconds: o.progressSeconds,
      parleyArgs: o.parleyArgs
    })
).pipe(
  Command.withDescription(
    "soak (pnpm soak): starts Parley (SQLite in a temp file, abuse limits off) and runs churn (connect, log in, send, " +
      "disconnect, over and over) beside steady traffic for --minutes (default 10), printing progress every 30 s. After " +
      "the warm-up and at the end it pauses the churn, waits for the server's open descriptors to settle and watches its " +
      "RSS (from /proc) and V8 heap in use (from its --metrics-port endpoint) for --settle-seconds (default 20; the lowest " +
      "readings count). Exits 1 if any of the three grew more than --max-growth percent (default 10), if the server " +
      "exited, or if no cycle completed."
  )
)

const generator = Command.make("generator", {}, () => Effect.promise(() => serveOverIpc())).pipe(
  Command.withDescription("a load generator process; the bench starts these itself and drives them over IPC")
)

/** The whole command line; give it `process.argv`. */
export const cli = Command.run(
  bench.pipe(
    Command.withSubcommands([fanOut, latency, rooms, idle, reconnect, durable, login, soak, baseline, generator])
  ),
  { name: "parley bench", version: "0.1.0" }
)
