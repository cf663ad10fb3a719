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
  /** The TCP port; 0 when TCP is off (`--port off`). */
  readonly port: number
  /** The TLS port, when the server listens with TLS. */
  readonly tlsPort: number | undefined
  readonly pid: number
  readonly db: string
  /** Everything the server printed so far (stdout and stderr). */
  readonly output: () => string
  /** Waits until the output (from the start) matches `pattern`; fails after `wait`. */
  readonly waitForOutput: (pattern: RegExp, wait?: Duration.DurationInput) => Effect.Effect<void, ServerProcessError>
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
  testBackend === "postgres"
    ? Effect.flatMap(Effect.promise(() => import("./Postgres.ts")), (pg) => pg.freshPgDatabase)
    : tempDb
)

/** The start-up line: `listening on host:port`, `... and with TLS on host:port`, or `listening with TLS on host:port`. */
const LISTENING = /listening (?:on [^\s:]+:(\d+))?(?: and )?(?:with TLS on [^\s:]+:(\d+))? \(/

interface Listening {
  readonly port: number
  readonly tlsPort: number | undefined
}

export interface SpawnOptions {
  /** The database file; a fresh temporary one by default; `null` passes no --db at all. */
  readonly db?: string | null
  /** Extra environment variables (PARLEY_*). */
  readonly env?: Readonly<Record<string, string>>
  /** Flags besides --host, --port (0 unless given) and --db; the flood and abuse limits off (`--msg-rate 0`, `--login-failures 0`, ...) unless given. */
  readonly flags?: ReadonlyArray<string>
  readonly startTimeout?: Duration.DurationInput
  /** Run with the pid as soon as the process is spawned, before it listens (to signal it while it starts). */
  readonly beforeListening?: (pid: number) => Effect.Effect<void, ServerProcessError>
}

/** Starts a server process and waits until it listens. */
export const spawnServer = (
  options: SpawnOptions = {}
): Effect.Effect<ServerProcess, ServerProcessError, Scope.Scope> =>
  Effect.gen(function*() {
    const db = options.db === null ? options.env?.PARLEY_DB ?? "" : options.db ?? (yield* testDb)
    const flags = options.flags ?? []
    const args = [
      "--import",
      "tsx",
      "packages/server/src/bin.ts",
      "--host",
      "127.0.0.1",
      ...(flags.includes("--port") ? [] : ["--port", "0"]),
      ...(options.db === null ? [] : ["--db", db]),
      ...(flags.includes("--msg-rate") || options.env?.PARLEY_MSG_RATE !== undefined ? [] : ["--msg-rate", "0"]),
      // tests register and fail logins from 127.0.0.1 far past the defaults; the tests of those limits set them
      ...(flags.includes("--login-failures") || options.env?.PARLEY_LOGIN_FAILURES !== undefined
        ? []
        : ["--login-failures", "0"]),
      ...(flags.includes("--register-rate") || options.env?.PARLEY_REGISTER_RATE !== undefined
        ? []
        : ["--register-rate", "0"]),
      ...(flags.includes("--max-conns-per-ip") || options.env?.PARLEY_MAX_CONNS_PER_IP !== undefined
        ? []
        : ["--max-conns-per-ip", "0"]),
      ...(flags.includes("--auth-timeout") || options.env?.PARLEY_AUTH_TIMEOUT !== undefined
        ? []
        : ["--auth-timeout", "0"]),
      ...flags
    ]
    const exit = yield* Deferred.make<Exited>()
    const listening = yield* Deferred.make<Listening, ServerProcessError>()
    let output = ""
    const watchers = new Set<() => void>()

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
          if (match !== null) {
            const tlsPort = match[2] === undefined ? undefined : Number(match[2])
            Deferred.unsafeDone(listening, Effect.succeed({ port: Number(match[1] ?? 0), tlsPort }))
          }
          for (const watcher of [...watchers]) watcher()
        }
        child.stdout.on("data", onOutput)
        child.stderr.on("data", onOutput)
        child.on("exit", (code, signal) => {
          Deferred.unsafeDone(exit, Effect.succeed({ code, signal }))
          Deferred.unsafeDone(
            listening,
            Effect.fail(
              new ServerProcessError({ message: `server exited (${code ?? signal}) before listening:\n${output}` })
            )
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
    if (options.beforeListening !== undefined) yield* options.beforeListening(pid)
    const { port, tlsPort } = yield* Deferred.await(listening).pipe(
      Effect.timeoutFail({
        duration: options.startTimeout ?? Duration.seconds(60),
        onTimeout: () => new ServerProcessError({ message: `server did not report listening:\n${output}` })
      })
    )
    const waitForOutput = (pattern: RegExp, wait: Duration.DurationInput = Duration.seconds(10)) =>
      Effect.async<void>((resume) => {
        const check = () => {
          if (!pattern.test(output)) return
          watchers.delete(check)
          resume(Effect.void)
        }
        watchers.add(check)
        check()
        return Effect.sync(() => void watchers.delete(check))
      }).pipe(
        Effect.timeoutFail({
          duration: wait,
          onTimeout: () =>
            new ServerProcessError({
              message: `the server did not print ${pattern} within ${Duration.format(wait)}:\n${output}`
            })
        })
      )
    return {
      port,
      tlsPort,
      pid,
      db,
      output: () => output,
      waitForOutput,
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
export const runServerCommand = (
  args: ReadonlyArray<string>,
  env: Readonly<Record<string, string>> = {}
): Effect.Effect<{ readonly code: number | null; readonly output: string }> =>
  Effect.async((resume) => {
    const child = ChildProcess.spawn(process.execPath, ["--import", "tsx", "packages/server/src/bin.ts", ...args], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env }
    })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")))
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")))
    child.on("exit", (code) => resume(Effect.succeed({ code, output })))
    return Effect.sync(() => {
      child.kill("SIGKILL")
    })
  })
