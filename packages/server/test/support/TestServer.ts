/**
 * The server a contract test talks to: its own server on port 0 with its own
 * fresh SQLite file and the real migrations, stopped with the test's scope.
 *
 * By default that is the composition root (`ServerLive`) built inside the
 * test process: it starts in milliseconds, where the real process costs
 * ~3 s of CPU on this 2-core machine (tsx and Effect loading), which for
 * ~40 contract tests would blow the suite's time budget. The same tests run
 * against the real process, exactly as `pnpm start:server` starts it, with
 * `PARLEY_TEST_SERVER=process`; and everything that is about the process
 * itself (signals, kill -9, memory, flags, idle timeout) always uses it
 * (`ServerProcess.test.ts`).
 */
import { Effect, type Scope } from "effect"
import { launchCluster, launchServer } from "./InProcessServer.ts"
import { spawnServer } from "./ServerProcess.ts"

export interface TestServer {
  readonly port: number
  /** The SQLite file. */
  readonly db: string
}

/** The operator flags a contract test may set. */
export interface TestServerOptions {
  readonly msgRate?: number
  readonly msgBurst?: number
  readonly idleTimeoutSeconds?: number
  readonly replayCap?: number
  readonly loginFailures?: number
  readonly registerRate?: number
  readonly maxConnsPerIp?: number
  readonly authTimeoutSeconds?: number
}

export const serverKind: "process" | "inprocess" = process.env.PARLEY_TEST_SERVER === "process"
  ? "process"
  : "inprocess"

const flags = (options: TestServerOptions): Array<string> => [
  ...(options.msgRate === undefined ? [] : ["--msg-rate", String(options.msgRate)]),
  ...(options.msgBurst === undefined ? [] : ["--msg-burst", String(options.msgBurst)]),
  ...(options.idleTimeoutSeconds === undefined ? [] : ["--idle-timeout", String(options.idleTimeoutSeconds)]),
  ...(options.replayCap === undefined ? [] : ["--replay-cap", String(options.replayCap)]),
  ...(options.loginFailures === undefined ? [] : ["--login-failures", String(options.loginFailures)]),
  ...(options.registerRate === undefined ? [] : ["--register-rate", String(options.registerRate)]),
  ...(options.maxConnsPerIp === undefined ? [] : ["--max-conns-per-ip", String(options.maxConnsPerIp)]),
  ...(options.authTimeoutSeconds === undefined ? [] : ["--auth-timeout", String(options.authTimeoutSeconds)])
]

/**
 * With `PARLEY_TEST_CLUSTER=N` (and `PARLEY_TEST_DB=postgres`), every
 * contract test's server is an N-node cluster behind a round-robin balancer,
 * so its clients are spread over the nodes (the vitest project `server-cluster`).
 */
export const clusterNodes = Number(process.env.PARLEY_TEST_CLUSTER ?? "0")

/** Starts this test's server (flood control off unless `options` says otherwise). */
export const startServer = (options: TestServerOptions = {}): Effect.Effect<TestServer, unknown, Scope.Scope> =>
  clusterNodes > 1
    ? launchCluster(clusterNodes, options)
    : serverKind === "process"
    ? spawnServer({ flags: flags(options) })
    : launchServer(options)

/** Per-test timeout for contract tests: starting real processes side by side takes far longer. */
export const contractTimeout = serverKind === "process" ? 180_000 : 30_000
