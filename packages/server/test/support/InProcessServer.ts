/**
 * The server built from its composition root inside the test process, for
 * the few rules that need settings the CLI does not expose (a small replay
 * cap, a short token lifetime). Everything else runs against the real
 * process (`ServerProcess.ts`). The scope shuts it down.
 */
import { Context, Effect, Layer, Logger, LogLevel, type Scope } from "effect"
import { Listener } from "../../src/Server.ts"
import type { ServerSettings } from "../../src/ServerConfig.ts"
import { ServerLive } from "../../src/ServerLive.ts"
import { testRedis } from "./Redis.ts"
import { testDb } from "./ServerProcess.ts"
import { tcpProxy } from "./TcpProxy.ts"

// the test output shows the server's errors (defects with their causes), not its routine lines
const QuietLogger = Logger.replace(
  Logger.defaultLogger,
  Logger.filterLogLevel(Logger.defaultLogger, LogLevel.greaterThanEqual(LogLevel.Error))
)

export interface InProcessServer {
  readonly port: number
  readonly db: string
  /** The web port, when `settings.web` asked for one. */
  readonly webPort: number | undefined
}

/** Starts a server on 127.0.0.1, port 0, a fresh database, flood control and the abuse limits off, overridden by `settings`. */
export const launchServer = (
  settings: Partial<ServerSettings> = {}
): Effect.Effect<InProcessServer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const db = settings.db ?? (yield* testDb)
    const context = yield* Layer.build(
      ServerLive({
        host: "127.0.0.1",
        port: 0,
        msgRate: 0,
        loginFailures: 0,
        registerRate: 0,
        maxConnsPerIp: 0,
        authTimeoutSeconds: 0,
        ...settings,
        db
      }).pipe(Layer.provide(QuietLogger))
    ).pipe(Effect.orDie)
    const { address, webAddress } = Context.get(context, Listener)
    // the settings here always include a TCP port
    return { port: address!.port, db, webPort: webAddress?.port }
  })

export interface InProcessCluster extends InProcessServer {
  /** Each node's own port (`port` is the balancer's). */
  readonly nodePorts: ReadonlyArray<number>
}

/**
 * `nodes` servers on one fresh PostgreSQL database and the test Redis, each
 * a node of one service, behind a round-robin TCP balancer on `port` (as
 * HAProxy is in compose.yaml): a test's consecutive connections land on
 * different nodes.
 */
export const launchCluster = (
  nodes: number,
  settings: Partial<ServerSettings> = {}
): Effect.Effect<InProcessCluster, never, Scope.Scope> =>
  Effect.gen(function*() {
    const db = settings.db ?? (yield* testDb)
    const started: Array<number> = []
    for (let i = 1; i <= nodes; i++) {
      started.push((yield* launchServer({ ...settings, db, bus: testRedis, nodeId: `node${i}` })).port)
    }
    let next = 0
    const balancer = yield* tcpProxy("127.0.0.1", () => started[next++ % started.length]!)
    return { port: balancer.port, db, nodePorts: started, webPort: undefined }
  })
