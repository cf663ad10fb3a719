/**
 * The server as an operator runs it: `node --import tsx packages/server/src/bin.ts`
 * as a child process on port 0 with its own SQLite file, found through the
 * `listening on host:port` line it logs. The scope stops it (SIGTERM, then
 * SIGKILL) by its pid and removes its files.
 */
import { Data, Deferred, Duration, Effect, type Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

/** The monorepo root: `--import tsx` resolves from the working directory. */
export const repoRoot = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "../../../..")

export class ServerProcessError extends Data.TaggedError("ServerProcessError")<{ readonly message: string }> {}

export interface Exited {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

export interface ServerProcess {
  readonly port: number
  readonly pid: number
  readonly db: string
  /** Everything the server printed so far (stdout and stderr). */
  readonly output: () => string
  /** Sends a signal to this server's pid. */
  readonly kill: (signal: NodeJS.Signals) => Effect.Effect<void>
  /** Waits for the process to exit. */
  readonly exited: Effect.Effect<Exited>
  /** The server's resident set size in KiB, from /proc/<pid>/status. */
  readonly rssKiB: Effect.Effect<number>
}

/** A fresh directory for one test's database, removed with the scope. */
export const tempDir: Effect.Effect<string, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "parley-test-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/** A path for a fresh SQLite file, removed (with its WAL) with the scope. */
export const tempDb: Effect.Effect<string, never, Scope.Scope> = Effect.map(tempDir, (dir) => Path.join(dir, "chat.db"))

/** The backend the server suites run against: `PARLEY_TEST_DB=postgres` for PostgreSQL, SQLite otherwise. */
export const testBackend: "sqlite" | "postgres" = process.env.PARLEY_TEST_DB === "postgres" ? "postgres" : "sqlite"

/** A fresh database of the suite's backend: a SQLite path, or a PostgreSQL URL; removed with the scope. */
export const testDb: Effect.Effect<string, never, Scope.Scope> = Effect.suspend(() =>
  testBackend === "postgres" ? Effect.flatMap(Effect.promise(() => import("./Postgres.ts")), (pg) => pg.freshPgDatabase) : tempDb
)

const LISTENING = /listening on [^\s:]+:(\d+)/

export interface SpawnOptions {
  /** The database file; a fresh temporary one by default; `null` passes no --db at all. */
  readonly db?: string | null
  /** Extra environment variables (PARLEY_*). */
  readonly env?: Readonly<Record<string, string>>
  /** Flags besides --host, --port and --db; the flood and abuse limits off (`--msg-rate 0`, `--login-failures 0`, ...) unless given. */
  readonly flags?: ReadonlyArray<string>
  readonly startTimeout?: Duration.DurationInput
}

/** Starts a server process and waits until it listens. */
export const spawnServer = (options: SpawnOptions = {}): Effect.Effect<ServerProcess, ServerProcessError, Scope.Scope> =>
  Effect.gen(function*() {
    const db = options.db === null ? options.env?.PARLEY_DB ?? "" : options.db ?? (yield* testDb)
    const flags = options.flags ?? []
    const args = [
      "--import",
      "tsx",
      "packages/server/src/bin.ts",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      ...(options.db === null ? [] : ["--db", db]),
      ...(flags.includes("--msg-rate") || options.env?.PARLEY_MSG_RATE !== undefined ? [] : ["--msg-rate", "0"]),
      // tests register and fail logins from 127.0.0.1 far past the defaults; the tests of those limits set them
      ...(flags.includes("--login-failures") || options.env?.PARLEY_LOGIN_FAILURES !== undefined ? [] : ["--login-failures", "0"]),
      ...(flags.includes("--register-rate") || options.env?.PARLEY_REGISTER_RATE !== undefined ? [] : ["--register-rate", "0"]),
      ...(flags.includes("--max-conns-per-ip") || options.env?.PARLEY_MAX_CONNS_PER_IP !== undefined ? [] : ["--max-conns-per-ip", "0"]),
      ...(flags.includes("--auth-timeout") || options.env?.PARLEY_AUTH_TIMEOUT !== undefined ? [] : ["--auth-timeout", "0"]),
      ...flags
    ]
    const exit = yield* Deferred.make<Exited>()
    const listening = yield* Deferred.make<number, ServerProcessError>()
    let output = ""

    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const child = ChildProcess.spawn(process.execPath, args, {
          cwd: repoRoot,
          stdio: ["ignore", "pipe", "pipe"],
          env: { ...process.env, ...options.env }
        })
        const onOutput = (chunk: Buffer) => {
          output += chunk.toString("utf8")
          const match = LISTENING.exec(output)
          if (match !== null) Deferred.unsafeDone(listening, Effect.succeed(Number(match[1])))
        }
        child.stdout.on("data", onOutput)
        child.stderr.on("data", onOutput)
        child.on("exit", (code, signal) => {
          Deferred.unsafeDone(exit, Effect.succeed({ code, signal }))
          Deferred.unsafeDone(
            listening,
            Effect.fail(new ServerProcessError({ message: `server exited (${code ?? signal}) before listening:\n${output}` }))
          )
        })
        return child
      }),
      (child) =>
        Effect.gen(function*() {
          if (yield* Deferred.isDone(exit)) return
          child.kill("SIGTERM")
          const stopped = yield* Deferred.await(exit).pipe(Effect.timeout(Duration.seconds(10)), Effect.option)
          if (stopped._tag === "None") {
            child.kill("SIGKILL")
            yield* Deferred.await(exit)
          }
        })
    )
    const pid = child.pid!
    const port = yield* Deferred.await(listening).pipe(
      Effect.timeoutFail({
        duration: options.startTimeout ?? Duration.seconds(60),
        onTimeout: () => new ServerProcessError({ message: `server did not report listening:\n${output}` })
      })
    )
    return {
      port,
      pid,
      db,
      output: () => output,
      kill: (signal) =>
        Effect.sync(() => {
          child.kill(signal)
        }),
      exited: Deferred.await(exit),
      rssKiB: Effect.sync(() => {
        const status = Fs.readFileSync(`/proc/${pid}/status`, "utf8")
        const match = /VmRSS:\s+(\d+)\s+kB/.exec(status)
        return match === null ? 0 : Number(match[1])
      })
    } satisfies ServerProcess
  })

/** Runs `bin.ts` with `args` to completion (for --help and bad flags); returns its exit code and output. */
export const runServerCommand = (args: ReadonlyArray<string>): Effect.Effect<{ readonly code: number | null; readonly output: string }> =>
  Effect.async((resume) => {
    const child = ChildProcess.spawn(process.execPath, ["--import", "tsx", "packages/server/src/bin.ts", ...args], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")))
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")))
    child.on("exit", (code) => resume(Effect.succeed({ code, output })))
    return Effect.sync(() => {
      child.kill("SIGKILL")
    })
  })
