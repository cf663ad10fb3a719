/**
 * The real Parley server as a child process, for tests: each test starts its
 * own on port 0 with a temp database, and the scope kills it by PID.
 */
import { Effect, Exit, type Scope } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"

export const repoRoot = resolve(import.meta.dirname, "../../..")
export const serverBin = join(repoRoot, "packages/server/src/bin.ts")
export const serverExists = existsSync(serverBin)

export interface ServerProcess {
  readonly host: string
  readonly port: number
  /** The TLS port, when started with `--tls-cert` and `--tls-key`. */
  readonly tlsPort: number | undefined
  readonly db: string
  readonly pid: () => number
  /** Sends a signal to the current server process. */
  readonly signal: (signal: NodeJS.Signals) => Effect.Effect<void>
  /** SIGKILLs the server and waits for it to be gone. */
  readonly kill: Effect.Effect<void>
  /** Starts the server again on the same port and database. */
  readonly restart: Effect.Effect<void, Error>
  /** Everything the server printed so far. */
  readonly output: () => string
}

interface Launched {
  readonly child: ChildProcess
  readonly port: number
  readonly tlsPort: number | undefined
  readonly output: () => string
}

/** Starts the server on `port` (and, with TLS flags in `extra`, on `tlsPort`). */
const launch = (db: string, port: number, tlsPort: number, extra: ReadonlyArray<string>) =>
  Effect.async<Launched, Error>((resume) => {
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        serverBin,
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        "--db",
        db,
        // flood control and the abuse limits off (the tests register many accounts from
        // 127.0.0.1) unless a test sets one
        ...["--msg-rate", "--register-rate", "--login-failures", "--max-conns-per-ip", "--auth-timeout"]
          .filter((flag) => !extra.includes(flag))
          .flatMap((flag) => [flag, "0"]),
        ...(extra.includes("--tls-cert") ? ["--tls-port", String(tlsPort)] : []),
        ...extra
      ],
      { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] }
    )
    let out = ""
    let done = false
    const onData = (chunk: Buffer) => {
      out += chunk.toString("utf8")
      const m = /listening on [^\s:]+:(\d+)(?: and with TLS on [^\s:]+:(\d+))? \(/.exec(out)
      if (m !== null && !done) {
        done = true
        const tls = m[2] === undefined ? undefined : Number(m[2])
        resume(Effect.succeed({ child, port: Number(m[1]), tlsPort: tls, output: () => out }))
      }
    }
    child.stdout!.on("data", onData)
    child.stderr!.on("data", onData)
    child.once("exit", (code, signal) => {
      if (!done) {
        done = true
        resume(Effect.fail(new Error(`server exited (${code ?? signal}) before listening:\n${out}`)))
      }
    })
    return Effect.sync(() => child.kill("SIGKILL"))
  }).pipe(Effect.timeoutFail({ duration: "30 seconds", onTimeout: () => new Error("server did not start in 30 s") }))

const waitExit = (child: ChildProcess) =>
  Effect.async<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    child.once("exit", () => resume(Effect.void))
  })

/**
 * Starts a server with its own temp database; it is killed when the scope
 * closes. With `--tls-cert` and `--tls-key` in `extra` it also listens with TLS,
 * on a free port that a restart keeps.
 */
export const startServer = (extra: ReadonlyArray<string> = []): Effect.Effect<ServerProcess, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "parley-client-test-"))),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
    )
    const db = join(dir, "chat.db")
    let current = yield* launch(db, 0, 0, extra)
    const { port, tlsPort } = current
    let earlier = ""
    const kill = Effect.suspend(() => {
      const child = current.child
      if (child.exitCode !== null || child.signalCode !== null) return Effect.void
      child.kill("SIGKILL")
      return waitExit(child)
    })
    yield* Effect.addFinalizer(() => kill)
    return {
      host: "127.0.0.1",
      port,
      tlsPort,
      db,
      pid: () => current.child.pid!,
      signal: (signal) => Effect.sync(() => void current.child.kill(signal)),
      kill,
      restart: Effect.gen(function*() {
        yield* kill
        earlier += current.output()
        // the old socket may linger a moment: retry the bind briefly
        for (let i = 0;; i++) {
          const next = yield* Effect.exit(launch(db, port, tlsPort ?? 0, extra))
          if (Exit.isSuccess(next)) {
            current = next.value
            return
          }
          if (i >= 20) return yield* Effect.failCause(next.cause)
          yield* Effect.sleep("250 millis")
        }
      }),
      output: () => earlier + current.output()
    } satisfies ServerProcess
  })
