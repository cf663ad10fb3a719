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
  /** Parley as a cluster of this many nodes on one PostgreSQL database and `bus` (default 1: one process). */
  readonly nodes?: number
  /** The cluster's bus, for `nodes` > 1. */
  readonly bus?: string
  /**
   * `ws`: Parley with its web port on, measured with receivers (and idle
   * connections) on WebSocket, under the name `parley-ws`; tcp (the default): TCP only.
   */
  readonly transport?: "tcp" | "ws"
}

/** The web port a Parley start-up printed (`Parley web client on http://host:port/ ...`). */
const WEB_LINE = /Parley web client on https?:\/\/\S+:(\d+)\//

export class ManagedServer {
  endpoint: Endpoint
  pid: number | undefined
  /** Every process of it: one, or each node of a cluster. */
  pids: ReadonlyArray<number> = []
  private children: Array<ChildProcess> = []
  /** The last lines the server printed, for error reports and for its own telemetry. */
  readonly log: Array<string> = []

  /** Parley's store (undefined for the others). */
  constructor(readonly spec: ServerSpec, readonly store?: Store) {
    this.endpoint = { host: spec.host, port: spec.port }
    this.pid = spec.pid
  }

  get name(): string {
    const nodes = this.spec.nodes ?? 1
    if (this.spec.kind === "parley") {
      return serverName(this.spec.backend ?? sqlite) + (this.spec.transport === "ws" ? "-ws" : "") +
        (nodes > 1 ? ` x${nodes}` : "")
    }
    return this.spec.kind === "external" ? "target" : this.spec.kind
  }

  get managed(): boolean {
    return this.spec.kind !== "external"
  }

  private argv(port: number, nodeIndex: number): Array<string> {
    const nodes = this.spec.nodes ?? 1
    const cluster = nodes > 1
      ? ["--bus", this.spec.bus ?? "redis://127.0.0.1:6379", "--node-id", `bench${nodeIndex + 1}`]
      : []
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
        flags: [
          "--idle-timeout",
          "3600",
          ...cluster,
          // a restart keeps the web port, as it keeps the TCP one
          ...(this.spec.transport === "ws" ? ["--web-port", String(this.endpoint.webPort ?? 0)] : []),
          ...(this.spec.extraArgs ?? [])
        ],
        defaultLimits: this.spec.abuseLimits === "default"
      })
    ]
  }

  /** Starts the process (each node, one after the other) and resolves once all listen; returns when that was (monotonic µs). */
  async start(ports: ReadonlyArray<number> = this.endpoint.ports ?? [this.endpoint.port]): Promise<number> {
    if (!this.managed) return nowUs()
    const nodes = this.spec.nodes ?? 1
    const listening: Array<number> = []
    let webPort: number | undefined
    for (let node = 0; node < nodes; node++) {
      const launched = await this.startOne(ports[node] ?? 0, node)
      listening.push(launched.port)
      this.children.push(launched.child)
      const web = WEB_LINE.exec(launched.output())
      webPort ??= web === null ? undefined : Number(web[1])
    }
    const listeningUs = nowUs()
    this.pids = this.children.map((child) => child.pid!)
    this.pid = this.pids[0]
    this.endpoint = {
      host: this.spec.host,
      port: listening[0]!,
      ...(nodes > 1 ? { ports: listening } : {}),
      ...(webPort === undefined ? {} : { webPort })
    }
    return listeningUs
  }

  private async startOne(port: number, node: number) {
    const [command, args] = withFileLimit(this.argv(port, node))
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
    const child = launched.child
    child.once("exit", () => {
      this.children = this.children.filter((c) => c !== child)
    })
    return launched
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when every process is gone. */
  async stop(graceMs = 12_000): Promise<void> {
    const running = this.children.filter((child) => child.exitCode === null && child.signalCode === null)
    await Promise.all(running.map((child) =>
      new Promise<void>((resolve) => {
        const kill = setTimeout(() => child.kill("SIGKILL"), graceMs)
        child.once("exit", () => {
          clearTimeout(kill)
          resolve()
        })
        child.kill("SIGTERM")
      })
    ))
    this.children = []
  }

  /** Stops and starts again on the same port (and, for Parley, the same database). */
  async restart(): Promise<{ readonly stoppedUs: number; readonly listeningUs: number }> {
    const ports = this.endpoint.ports ?? [this.endpoint.port]
    await this.stop()
    const stoppedUs = nowUs()
    const listeningUs = await this.start(ports)
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
