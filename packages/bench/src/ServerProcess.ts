/**
 * A server under test, in its own process: Parley (`packages/server`), the
 * baseline, or an external one reached by host and port. Started on port 0 (a
 * restart reuses the port it got) and told apart by its start-up line
 * `listening on <host>:<port>`, through the launcher the tests use
 * (`@parley/testkit`). The process's life here is a Promise-based class
 * because the scenarios are plain async code timed in microseconds. Parley gets a store of its own (a SQLite temp
 * file or a fresh PostgreSQL database, see `Backend.ts`), removed once it stops.
 */
import { launch, parleyArgs } from "@parley/testkit"
import { Data, Effect } from "effect"
import type { ChildProcess } from "node:child_process"
import { type Backend, createStore, serverName, sqlite, type Store } from "./Backend.ts"
import { type Endpoint, nowUs } from "./Client.ts"
import { benchBin, withFileLimit } from "./Paths.ts"

export class ServerError extends Data.TaggedError("ServerError")<{ readonly reason: string }> {
  // what the failed run prints: without it, "An error has occurred"
  override get message(): string {
    return this.reason
  }
}

export type ServerKind = "parley" | "baseline" | "external"

export interface ServerSpec {
  readonly kind: ServerKind
  readonly host: string
  readonly port: number
  /** For `external`: its pid, when known, for CPU and RSS. */
  readonly pid?: number | undefined
  /** Extra flags for Parley. */
  readonly extraArgs?: ReadonlyArray<string>
  /** Where Parley stores (default SQLite). */
  readonly backend?: Backend
  /** Flags for node itself (e.g. `--cpu-prof`). */
  readonly nodeArgs?: ReadonlyArray<string>
  /** Parley's abuse limits: off (the default: see `argv`), or at the server's own defaults. */
  readonly abuseLimits?: "off" | "default"
}

export class ManagedServer {
  endpoint: Endpoint
  pid: number | undefined
  private child: ChildProcess | undefined
  /** The last lines the server printed, for error reports and for its own telemetry. */
  readonly log: Array<string> = []

  /** Parley's store (undefined for the others). */
  constructor(readonly spec: ServerSpec, readonly store?: Store) {
    this.endpoint = { host: spec.host, port: spec.port }
    this.pid = spec.pid
  }

  get name(): string {
    if (this.spec.kind === "parley") return serverName(this.spec.backend ?? sqlite)
    return this.spec.kind === "external" ? "target" : this.spec.kind
  }

  get managed(): boolean {
    return this.spec.kind !== "external"
  }

  private argv(port: number): Array<string> {
    const host = this.spec.host
    const node = [process.execPath, ...(this.spec.nodeArgs ?? [])]
    if (this.spec.kind === "baseline") {
      return [...node, "--import", "tsx", benchBin, "baseline", "--host", host, "--port", String(port)]
    }
    return [
      ...node,
      // every run registers 65 accounts and opens thousands of connections from 127.0.0.1, and the
      // login storm fails logins on purpose: the abuse limits would measure themselves (but for
      // the login flood, which measures them)
      ...parleyArgs({
        host,
        port,
        db: this.store!.db,
        flags: ["--idle-timeout", "3600", ...(this.spec.extraArgs ?? [])],
        defaultLimits: this.spec.abuseLimits === "default"
      })
    ]
  }

  /** Starts the process and resolves once it listens; returns when that was (monotonic µs). */
  async start(port = this.endpoint.port): Promise<number> {
    if (!this.managed) return nowUs()
    const [command, args] = withFileLimit(this.argv(port))
    const launched = await Effect.runPromise(
      launch({
        command,
        args,
        startTimeout: "60 seconds",
        onLine: (line) => {
          this.log.push(line)
          if (this.log.length > 200) this.log.splice(0, this.log.length - 200)
        }
      }).pipe(Effect.mapError((e) => new Error(`${this.name} ${e.message}`)))
    )
    const listeningUs = nowUs()
    const child = launched.child
    this.child = child
    this.pid = child.pid
    this.endpoint = { host: this.spec.host, port: launched.port }
    child.once("exit", () => {
      if (this.child === child) this.child = undefined
    })
    return listeningUs
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs = 12_000): Promise<void> {
    const child = this.child
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const kill = setTimeout(() => child.kill("SIGKILL"), graceMs)
      child.once("exit", () => {
        clearTimeout(kill)
        resolve()
      })
      child.kill("SIGTERM")
    })
  }

  /** Stops and starts again on the same port (and, for Parley, the same database). */
  async restart(): Promise<{ readonly stoppedUs: number; readonly listeningUs: number }> {
    await this.stop()
    const stoppedUs = nowUs()
    const listeningUs = await this.start(this.endpoint.port)
    return { stoppedUs, listeningUs }
  }

  /** Removes the store; a failure is reported on stderr, not thrown: the figures are still good. */
  async dispose(): Promise<void> {
    await this.store?.remove().catch((e: unknown) => {
      process.stderr.write(`\n${this.name}: ${e instanceof Error ? e.message : String(e)}\n`)
    })
  }

  tail(n = 20): string {
    return this.log.slice(-n).join("\n")
  }
}

/** A started server, stopped (and its store removed) when the scope closes. */
export const acquireServer = (spec: ServerSpec) =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        const store = spec.kind === "parley" ? await createStore(spec.backend ?? sqlite) : undefined
        const server = new ManagedServer(spec, store)
        try {
          await server.start()
        } catch (e) {
          await server.stop()
          await server.dispose()
          throw e
        }
        return server
      },
      catch: (e) => new ServerError({ reason: String((e as Error).message ?? e) })
    }),
    (server) =>
      Effect.promise(async () => {
        await server.stop()
        await server.dispose()
      })
  )
