/**
 * Stopping the server every way a person or a supervisor does, with the
 * server started exactly as the README starts it (`npx -y pnpm@12.4.2
 * start:server`, in a process group of its own): SIGINT or SIGTERM to the whole
 * group (Ctrl-C in a terminal, `kill -TERM -<pgid>`, systemd's control-group
 * kill), to node alone, a second signal 50 ms after the first, and a signal
 * during start-up. Each run: the logged-in client gets `BYE shutdown`, its
 * acknowledged message and its `disconnect_time` are in the database, the WAL
 * is folded back, pnpm reports no failure, and the next start (the next run, on
 * the same file) finds no session left open by a crash.
 *
 * The moments are random, from a seed printed with every failure
 * (`PARLEY_SIGNAL_SEED` replays one).
 */
import { assert, describe, it } from "@effect/vitest"
import { Data, Deferred, Duration, Effect, Random, Schedule, type Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import { repoRoot, tempDb } from "./support/ServerProcess.ts"
import { sessions, withDatabase } from "./support/SqliteFile.ts"
import { logIn, say, signUp, type Wire } from "./support/Wire.ts"

const every20ms = Schedule.spaced(Duration.millis(20))

const seed = Number(process.env.PARLEY_SIGNAL_SEED ?? Date.now() % 1_000_000)

class RunFailed extends Data.TaggedError("RunFailed")<{ readonly message: string }> {}

interface Exited {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/** The pid of the group's process named `parley-server`: node, once its signal handlers are in place (bin.ts sets the title after them). */
const titledServer = (pgid: number): number | undefined => {
  for (const name of Fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue
    try {
      // field 5 of stat is the process group; the name (field 2) may hold spaces, so split after ')'
      const stat = Fs.readFileSync(`/proc/${name}/stat`, "utf8")
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
      if (Number(fields[2]) === pgid && Fs.readFileSync(`/proc/${name}/comm`, "utf8").trim() === "parley-server") {
        return Number(name)
      }
    } catch {
      // exited meanwhile
    }
  }
  return undefined
}

interface ReadmeServer {
  readonly pgid: number
  readonly port: Deferred.Deferred<number, RunFailed>
  readonly exited: Deferred.Deferred<Exited>
  readonly output: () => string
  /** The node process running bin.ts, once it holds signals. */
  readonly node: Effect.Effect<number, RunFailed>
}

/** `npx -y pnpm@12.4.2 start:server ...` as its own process group; killed (SIGKILL to the group) with the scope if still there. */
const startAsReadme = (db: string): Effect.Effect<ReadmeServer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const port = yield* Deferred.make<number, RunFailed>()
    const exited = yield* Deferred.make<Exited>()
    let output = ""
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        ChildProcess.spawn(
          "npx",
          ["-y", "pnpm@12.4.2", "start:server", "--host", "127.0.0.1", "--port", "0", "--db", db, "--msg-rate", "0"],
          { cwd: repoRoot, detached: true, stdio: ["ignore", "pipe", "pipe"] }
        )
      ),
      (child) =>
        Effect.sync(() => {
          try {
            process.kill(-child.pid!, "SIGKILL")
          } catch {
            // the group is gone
          }
        })
    )
    const onOutput = (chunk: Buffer) => {
      output += chunk.toString("utf8")
      const match = /listening on [^\s:]+:(\d+)/.exec(output)
      if (match !== null) Deferred.unsafeDone(port, Effect.succeed(Number(match[1])))
    }
    child.stdout.on("data", onOutput)
    child.stderr.on("data", onOutput)
    // "close": the process has exited and everything it printed has been read
    child.on("close", (code, signal) => {
      Deferred.unsafeDone(exited, Effect.succeed({ code, signal }))
      Deferred.unsafeDone(
        port,
        Effect.fail(new RunFailed({ message: `exited (${code ?? signal}) before listening:\n${output}` }))
      )
    })
    const pgid = child.pid!
    const node = Effect.suspend(() => {
      const pid = titledServer(pgid)
      return pid === undefined
        ? Effect.fail(new RunFailed({ message: "no parley-server process yet" }))
        : Effect.succeed(pid)
    }).pipe(Effect.retry({ schedule: every20ms, times: 4500 }))
    return { pgid, port, exited, output: () => output, node }
  })

type Target = "group" | "node"

interface Run {
  readonly target: Target
  readonly signal: NodeJS.Signals
  /** ms after CONNECTED, or after node took its name (signals held) when `duringStartup` */
  readonly delayMs: number
  readonly second?: boolean
  readonly duringStartup?: boolean
}

const send = (pid: number, signal: NodeJS.Signals) =>
  Effect.sync(() => {
    try {
      process.kill(pid, signal)
    } catch {
      // already gone: the assertions below say whether that was right
    }
  })

/** One start, login, signal and stop; `first` registers the account, later runs log in to it. */
const oneRun = (db: string, run: Run, index: number) =>
  Effect.scoped(Effect.gen(function*() {
    const what = `run ${index} (${JSON.stringify(run)}, seed ${seed})`
    const server = yield* startAsReadme(db)
    const node = yield* server.node
    const target = run.target === "group" ? -server.pgid : node
    let acked: number | undefined
    let wire: Wire | undefined
    if (run.duringStartup === true) {
      yield* Effect.sleep(Duration.millis(run.delayMs))
    } else {
      const port = yield* Deferred.await(server.port)
      const login = index === 0 ? yield* signUp(port, "alice") : yield* logIn(port, "alice")
      wire = login.wire
      acked = (yield* say(wire, `before signal ${index}`)).message_id as number
      yield* Effect.sleep(Duration.millis(run.delayMs))
    }
    yield* send(target, run.signal)
    if (run.second === true) {
      yield* Effect.sleep(Duration.millis(50))
      yield* send(target, run.signal)
    }
    // once running, the shutdown takes at most its 10 s grace; a signal held during start-up is
    // acted on only once the program has loaded, which on a loaded machine takes a while longer
    const limit = run.duringStartup === true ? 60 : 15
    const exit = yield* Deferred.await(server.exited).pipe(
      Effect.timeoutFail({
        duration: Duration.seconds(limit),
        onTimeout: () =>
          new RunFailed({ message: `${what}: still running ${limit} s after the signal:\n${server.output()}` })
      })
    )
    const output = server.output()
    assert.notInclude(output, "ELIFECYCLE", `${what}: pnpm saw the server fail:\n${output}`)
    assert.notInclude(output, "left open by an earlier crash", `${what}:\n${output}`)
    // npx re-raises a signal it received itself once its child has exited (the shell shows 130/143); pnpm exits with the server's status
    assert.isTrue(
      exit.code === 0 || (run.target === "group" && exit.signal === run.signal),
      `${what}: npx exited ${JSON.stringify(exit)}:\n${output}`
    )
    if (wire !== undefined) {
      const bye = yield* wire.pick((f) => f.type === "BYE")
      assert.deepStrictEqual(bye, { type: "BYE", reason: "shutdown" }, what)
      yield* wire.expectClosed()
      assert.include(output, "stopped: every connection closed, database closed", what)
    }
    if (Fs.existsSync(db)) {
      assert.isFalse(Fs.existsSync(`${db}-wal`), `${what}: the WAL was left behind`)
      const open = (yield* sessions(db)).filter((s) => s.disconnect_time === null)
      assert.deepStrictEqual(open, [], `${what}: sessions left open`)
      if (acked !== undefined) {
        const stored = yield* withDatabase(db, (sql) =>
          sql<{ n: number }>`SELECT count(*) AS n FROM messages WHERE id = ${acked}`)
        assert.strictEqual(stored[0]!.n, 1, `${what}: acknowledged message ${acked} not stored`)
      }
    }
  }))

/** Runs in order on one database: each start is the "next start" of the run before it. */
const chain = (runs: ReadonlyArray<Run>) =>
  Effect.gen(function*() {
    const db = yield* tempDb
    for (const [index, run] of runs.entries()) yield* oneRun(db, run, index)
  })

/** `count` runs of `make(i)` with delays drawn from the seeded generator. */
const runs = (label: string, count: number, maxDelayMs: number, make: (i: number, delayMs: number) => Run) =>
  Effect.gen(function*() {
    const random = Random.make(`${seed}/${label}`)
    const delays: Array<number> = []
    for (let i = 0; i < count; i++) delays.push(yield* random.nextIntBetween(0, maxDelayMs + 1))
    return delays.map((d, i) => make(i, d))
  })

const minutes = (n: number) => n * 60_000

describe.concurrent("stopping the server started as the README does", () => {
  it.scopedLive(
    "SIGINT to the process group (Ctrl-C), 0-5 s after a login, 10 times",
    () =>
      Effect.flatMap(
        runs("group-int", 10, 5000, (_, delayMs) => ({ target: "group", signal: "SIGINT", delayMs })),
        chain
      ),
    minutes(4)
  )

  it.scopedLive(
    "SIGTERM to the process group (kill -TERM -<pgid>, systemd), 0-5 s after a login, 10 times",
    () =>
      Effect.flatMap(
        runs("group-term", 10, 5000, (_, delayMs) => ({ target: "group", signal: "SIGTERM", delayMs })),
        chain
      ),
    minutes(4)
  )

  it.scopedLive(
    "SIGINT or SIGTERM to node alone, 0-5 s after a login, 4 times",
    () =>
      Effect.flatMap(
        runs(
          "node",
          4,
          5000,
          (i, delayMs) => ({ target: "node", signal: i % 2 === 0 ? "SIGINT" : "SIGTERM", delayMs })
        ),
        chain
      ),
    minutes(3)
  )

  it.scopedLive("a second signal 50 ms after the first (group and node alone), 4 times", () =>
    Effect.flatMap(
      runs("second", 4, 5000, (i, delayMs) => ({
        target: i < 2 ? "group" : "node",
        signal: i % 2 === 0 ? "SIGINT" : "SIGTERM",
        delayMs,
        second: true
      })),
      chain
    ), minutes(3))

  it.scopedLive("a signal during start-up, from the moment node runs until it listens, 4 times", () =>
    Effect.flatMap(
      runs("startup", 4, 1200, (i, delayMs) => ({
        target: i % 2 === 0 ? "group" : "node",
        signal: i < 2 ? "SIGINT" : "SIGTERM",
        delayMs,
        duringStartup: true
      })),
      chain
    ), minutes(5))
})
