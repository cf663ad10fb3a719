/**
 * The metrics endpoint (`--metrics-port`, on `--metrics-host`): plain
 * node:http serving two paths, `GET /metrics` (the server's registry in
 * Prometheus text format) and `GET /healthz` (200 `ok`, or 503 with the
 * reason in one line). `HEAD` is answered like `GET` without a body; any other
 * path is 404, any other method on these paths 405.
 */
import { Console, Effect, FiberSet, Layer } from "effect"
import * as Http from "node:http"
import type * as Net from "node:net"
import type { Registry } from "prom-client"
import { HealthCheck } from "./HealthCheck.ts"
import { makeReply } from "./HttpReply.ts"
import { Metrics } from "./Metrics.ts"
import { makeRegistry } from "./MetricsRegistry.ts"
import { ServerConfig } from "./ServerConfig.ts"

const reply = makeReply()

type Run = <A, E>(effect: Effect.Effect<A, E>) => unknown

const makeHandler = (registry: Registry, health: HealthCheck, run: Run) =>
(
  req: Http.IncomingMessage,
  res: Http.ServerResponse
): void => {
  const path = (req.url ?? "/").split("?", 1)[0]
  if (path !== "/metrics" && path !== "/healthz") return reply(req, res, 404, "not found: try /metrics or /healthz\n")
  if (req.method !== "GET" && req.method !== "HEAD") {
    return reply(req, res, 405, `method not allowed: ${path} answers GET and HEAD\n`, { Allow: "GET, HEAD" })
  }
  if (path === "/healthz") {
    run(Effect.map(health.check, (h) => reply(req, res, h.ok ? 200 : 503, `${h.reason}\n`)))
    return
  }
  registry.metrics().then(
    (body) => reply(req, res, 200, body, { "Content-Type": registry.contentType }),
    (error: unknown) => {
      run(Effect.logError("collecting metrics failed", error))
      reply(req, res, 500, "collecting metrics failed\n")
    }
  )
}

const listen = (server: Http.Server, port: number, host: string) =>
  Effect.async<Net.AddressInfo, Error>((resume) => {
    const onError = (error: Error) => resume(Effect.fail(error))
    server.once("error", onError)
    server.listen(port, host, () => {
      server.off("error", onError)
      resume(Effect.succeed(server.address() as Net.AddressInfo))
    })
  })

/** Serves the metrics endpoint for as long as the server runs (only built when `metricsPort` is set). */
export const MetricsServer = Layer.scopedDiscard(
  Effect.gen(function*() {
    const config = yield* ServerConfig
    const metrics = yield* Metrics
    const health = yield* HealthCheck
    const registry = makeRegistry(metrics)
    const run = yield* FiberSet.makeRuntime<never>()
    const server = Http.createServer(makeHandler(registry, health, run))
    const address = yield* Effect.acquireRelease(
      listen(server, config.metricsPort ?? 0, config.metricsHost),
      () =>
        Effect.sync(() => {
          server.close()
          server.closeAllConnections()
        })
    ).pipe(Effect.orDie)
    const host = address.family === "IPv6" ? `[${address.address}]` : address.address
    // a plain line on stdout, like the listening line that follows it: tools read the port from it
    yield* Console.log(`Parley metrics on http://${host}:${address.port}/metrics and /healthz`)
  })
).pipe(Layer.provide(HealthCheck.Default))
