/**
 * The server as an operator runs it, in a child process: `node --import tsx
 * packages/server/src/bin.ts` on port 0, found through the `listening on
 * host:port` line it prints. One implementation for the server's tests, the
 * client's tests and the benchmark:
 *
 * - `parleyArgs` builds the command line (flood control and the abuse limits
 *   off unless the caller sets them: tests and benchmarks register many
 *   accounts and fail logins from 127.0.0.1 on purpose);
 * - `launch` starts any program that announces itself that way and waits
 *   until it listens (the benchmark also launches its bare-Node baseline);
 * - `spawnServer` is a Parley server owned by a scope: stopped (SIGTERM, then
 *   SIGKILL) by its pid and its temporary files removed when the scope closes,
 *   restartable on the same port and database.
 */
import { Data, Deferred, Duration, Effect, Exit, type Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

/** The monorepo root: `--import tsx` resolves from the working directory. */
export const repoRoot = Path.resolve(import.meta.dirname, "../../..")
export const serverBin = Path.join(repoRoot, "packages/server/src/bin.ts")

export class ServerProcessError extends Data.TaggedError("ServerProcessError")<{ readonly message: string }> {}

export interface Exited {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/**
 * The start-up line: `listening on host:port`, `... and with TLS on
 * host:port`, or `listening with TLS on host:port` (TCP off), followed by
 * ` (` or the end of the line: a port is read only once all of it arrived.
 */
const LISTENING = /listening (?:on [^\s:]+:(\d+))?(?: and )?(?:with TLS on [^\s:]+:(\d+))?(?: \(|\r?\n)/

/** The ports a start-up line announces; undefined until one is printed. */
export const parseListening = (
  output: string
): { readonly port: number; readonly tlsPort: number | undefined } | undefined => {
  const match = LISTENING.exec(output)
  if (match === null || (match[1] === undefined && match[2] === undefined)) return undefined
  return { port: Number(match[1] ?? 0), tlsPort: match[2] === undefined ? undefined : Number(match[2]) }
}

/** The limits tests and benchmarks turn off (0) unless they set them, by flag or by PARLEY_* variable. */
const LIMITS = [
  ["--msg-rate", "PARLEY_MSG_RATE"],
  ["--login-failures", "PARLEY_LOGIN_FAILURES"],
  ["--register-rate", "PARLEY_REGISTER_RATE"],
  ["--max-conns-per-ip", "PARLEY_MAX_CONNS_PER_IP"],
  ["--auth-timeout", "PARLEY_AUTH_TIMEOUT"]
] as const

export interface ParleyArgs {
  readonly host?: string
  /** 0 (a free one) unless given; ignored when `flags` hold `--port`. */
  readonly port?: number
  /** `--db`, unless undefined. */
  readonly db?: string | undefined
  readonly flags?: ReadonlyArray<string>
  readonly env?: Readonly<Record<string, string>> | undefined
  /** The abuse limits at the server's own defaults instead of off. */
  readonly defaultLimits?: boolean
}

/** The arguments after `node`: the server's entry and its flags. */
export const parleyArgs = (options: ParleyArgs): Array<string> => {
  const flags = options.flags ?? []
  const limitsOff = options.defaultLimits === true
    ? []
    : LIMITS.filter(([flag, env]) => !flags.includes(flag) && options.env?.[env] === undefined)
      .flatMap(([flag]) => [flag, "0"])
  return [
    "--import",
    "tsx",
    serverBin,
    "--host",
    options.host ?? "127.0.0.1",
    ...(flags.includes("--port") ? [] : ["--port", String(options.port ?? 0)]),
    ...(options.db === undefined ? [] : ["--db", options.db]),
    ...limitsOff,
    ...flags
  ]
}

/** A started program, listening. */
export interface Launched {
  readonly child: ChildProcess.ChildProcess
  readonly port: number
  readonly tlsPort: number | undefined
  /** Everything it printed so far (stdout and stderr). */
  readonly output: () => string
  /** Waits until the output (from the start) matches `pattern`; fails after `wait`. */
  readonly waitForOutput: (pattern: RegExp, wait?: Duration.DurationInput) => Effect.Effect<void, ServerProcessError>
  /** Resolves when it has exited. */
  readonly exited: Effect.Effect<Exited>
}

export interface LaunchOptions {
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly env?: Readonly<Record<string, string>> | undefined
  readonly startTimeout?: Duration.DurationInput | undefined
  /** Run with the pid as soon as the process is spawned, before it listens (to signal it while it starts). */
  readonly beforeListening?: ((pid: number) => Effect.Effect<void, ServerProcessError>) | undefined
  /** Called with each line it prints, as it prints it (a benchmark keeps the last ones). */
  readonly onLine?: (line: string) => void
}

/**
 * Starts a program that prints `listening on host:port` and waits until it
 * does; fails (and kills it) if it exits first or takes longer than the
 * timeout. The caller owns the child from then on.
 */
export const launch = (options: LaunchOptions): Effect.Effect<Launched, ServerProcessError> =>
  Effect.gen(function*() {
    const exit = yield* Deferred.make<Exited>()
    const listening = yield* Deferred.make<{ port: number; tlsPort: number | undefined }, ServerProcessError>()
    let output = ""
    let partial = ""
    const watchers = new Set<() => void>()
    const child = ChildProcess.spawn(options.command, [...options.args], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...options.env }
    })
    const onOutput = (chunk: Buffer) => {
      const text = chunk.toString("utf8")
      output += text
      if (options.onLine !== undefined) {
        partial += text
        let nl: number
        while ((nl = partial.indexOf("\n")) >= 0) {
          options.onLine(partial.slice(0, nl))
          partial = partial.slice(nl + 1)
        }
      }
      const ports = parseListening(output)
      if (ports !== undefined) Deferred.unsafeDone(listening, Exit.succeed(ports))
      for (const watcher of [...watchers]) watcher()
    }
    // keep reading always: a full pipe would block the server
    child.stdout!.on("data", onOutput)
    child.stderr!.on("data", onOutput)
    child.on("error", (error) => {
      Deferred.unsafeDone(listening, Exit.fail(new ServerProcessError({ message: `cannot start: ${error.message}` })))
    })
    child.on("exit", (code, signal) => {
      Deferred.unsafeDone(exit, Exit.succeed({ code, signal }))
      Deferred.unsafeDone(
        listening,
        Exit.fail(new ServerProcessError({ message: `exited (${code ?? signal}) before listening:\n${output}` }))
      )
    })
    const started = Effect.gen(function*() {
      if (options.beforeListening !== undefined && child.pid !== undefined) yield* options.beforeListening(child.pid)
      return yield* Deferred.await(listening).pipe(
        Effect.timeoutFail({
          duration: options.startTimeout ?? Duration.seconds(60),
          onTimeout: () => new ServerProcessError({ message: `did not report listening:\n${output}` })
        })
      )
    })
    const ports = yield* Effect.tapError(started, () => Effect.sync(() => child.kill("SIGKILL")))
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
            new ServerProcessError({ message: `did not print ${pattern} within ${Duration.format(wait)}:\n${output}` })
        })
      )
    return { child, ...ports, output: () => output, waitForOutput, exited: Deferred.await(exit) }
  })

/** A fresh directory, removed with the scope. */
export const tempDir: Effect.Effect<string, never, Scope.Scope> = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "parley-test-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/** A path for a fresh SQLite file, removed (with its WAL) with the scope. */
export const tempDb: Effect.Effect<string, never, Scope.Scope> = Effect.map(tempDir, (dir) => Path.join(dir, "chat.db"))

export interface ServerProcess {
  readonly host: string
  /** The TCP port; 0 when TCP is off (`--port off`). */
  readonly port: number
  /** The TLS port, when it listens with TLS (a restart keeps it). */
  readonly tlsPort: number | undefined
  /** The current process's pid (a restart changes it). */
  readonly pid: number
  readonly db: string
  /** Everything the server printed so far, across restarts. */
  readonly output: () => string
  /** Waits until the current process's output matches `pattern`; fails after `wait`. */
  readonly waitForOutput: (pattern: RegExp, wait?: Duration.DurationInput) => Effect.Effect<void, ServerProcessError>
  /** Sends a signal to the current process. */
  readonly signal: (signal: NodeJS.Signals) => Effect.Effect<void>
  /** SIGKILLs the current process and waits until it is gone. */
  readonly kill: Effect.Effect<void>
  /** Waits for the current process to exit. */
  readonly exited: Effect.Effect<Exited>
  /** Starts the server again on the same ports and database. */
  readonly restart: Effect.Effect<void, ServerProcessError>
  /** The current process's resident set size in KiB, from /proc/<pid>/status. */
  readonly rssKiB: Effect.Effect<number>
}

export interface SpawnOptions {
  /** The database: a fresh temporary SQLite file by default; `null` passes no --db at all. */
  readonly db?: string | null
  /** Extra environment variables (PARLEY_*). */
  readonly env?: Readonly<Record<string, string>>
  /** Flags besides --host, --port (0 unless given) and --db; the flood and abuse limits off unless given. */
  readonly flags?: ReadonlyArray<string>
  readonly startTimeout?: Duration.DurationInput
  /** Run with the pid as soon as the process is spawned, before it listens (to signal it while it starts). */
  readonly beforeListening?: (pid: number) => Effect.Effect<void, ServerProcessError>
}

const stop = (launched: Launched): Effect.Effect<void> =>
  Effect.gen(function*() {
    if (launched.child.exitCode !== null || launched.child.signalCode !== null) return
    launched.child.kill("SIGTERM")
    const stopped = yield* launched.exited.pipe(Effect.timeout(Duration.seconds(10)), Effect.option)
    if (stopped._tag === "None") {
      launched.child.kill("SIGKILL")
      yield* launched.exited
    }
  })

/** Starts a Parley server owned by the scope and waits until it listens. */
export const spawnServer = (
  options: SpawnOptions = {}
): Effect.Effect<ServerProcess, ServerProcessError, Scope.Scope> =>
  Effect.gen(function*() {
    const db = options.db === null ? options.env?.PARLEY_DB ?? "" : options.db ?? (yield* tempDb)
    const flags = options.flags ?? []
    const start = (port: number, tlsPort: number | undefined, beforeListening?: SpawnOptions["beforeListening"]) =>
      launch({
        command: process.execPath,
        args: parleyArgs({
          port,
          db: options.db === null ? undefined : db,
          env: options.env,
          // TLS on a free port (not the default 5556), which a restart keeps
          flags: flags.includes("--tls-cert") && !flags.includes("--tls-port")
            ? [...flags, "--tls-port", String(tlsPort ?? 0)]
            : flags
        }),
        env: options.env,
        startTimeout: options.startTimeout,
        beforeListening
      })
    let current = yield* Effect.acquireRelease(
      start(0, undefined, options.beforeListening),
      (launched) => stop(launched)
    )
    const { port, tlsPort } = current
    let earlier = ""
    // a restarted process is stopped with the scope too
    yield* Effect.addFinalizer(() => stop(current))
    const kill = Effect.suspend(() => {
      const child = current.child
      if (child.exitCode !== null || child.signalCode !== null) return Effect.void
      child.kill("SIGKILL")
      return Effect.asVoid(current.exited)
    })
    const restart = Effect.gen(function*() {
      yield* kill
      earlier += current.output()
      // the old socket may linger a moment: retry the bind briefly
      for (let attempt = 0;; attempt++) {
        const next = yield* Effect.exit(start(port, tlsPort))
        if (Exit.isSuccess(next)) {
          current = next.value
          return
        }
        if (attempt >= 20) return yield* Effect.failCause(next.cause)
        yield* Effect.sleep("250 millis")
      }
    })
    return {
      host: "127.0.0.1",
      port,
      tlsPort,
      get pid() {
        return current.child.pid!
      },
      db,
      output: () => earlier + current.output(),
      waitForOutput: (pattern, wait) => current.waitForOutput(pattern, wait),
      signal: (signal) => Effect.sync(() => void current.child.kill(signal)),
      kill,
      exited: Effect.suspend(() => current.exited),
      restart,
      rssKiB: Effect.sync(() => {
        const status = Fs.readFileSync(`/proc/${current.child.pid}/status`, "utf8")
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
    const child = ChildProcess.spawn(process.execPath, ["--import", "tsx", serverBin, ...args], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env }
    })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")))
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString("utf8")))
    // "close", not "exit": the last lines can still be in the pipes when the process has exited
    child.on("close", (code) => resume(Effect.succeed({ code, output })))
    return Effect.sync(() => {
      child.kill("SIGKILL")
    })
  })
