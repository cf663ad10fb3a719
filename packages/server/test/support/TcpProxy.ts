/**
 * A TCP proxy on 127.0.0.1 for outage tests: the server talks to its
 * database through it, and the test cuts it (every connection reset, new ones
 * refused, as when the database host goes away) and restores it on the same
 * port. Closed with the scope.
 */
import { Effect, type Scope } from "effect"
import * as Net from "node:net"

export interface TcpProxy {
  readonly port: number
  /** Resets every proxied connection and refuses new ones until `restore`. */
  readonly cut: Effect.Effect<void>
  /** Accepts connections again, on the same port. */
  readonly restore: Effect.Effect<void>
}

/**
 * `targetPort` may choose per connection (a balancer's round robin). The
 * upstream connection is made from the client's own loopback address, so a
 * server's per-address limits see the client, not the proxy.
 */
export const tcpProxy = (
  targetHost: string,
  targetPort: number | (() => number)
): Effect.Effect<TcpProxy, never, Scope.Scope> =>
  Effect.gen(function*() {
    const sockets = new Set<Net.Socket>()
    // half-open both ways: a client that sends and closes its side still gets every reply
    const server = Net.createServer({ allowHalfOpen: true }, (client) => {
      const port = typeof targetPort === "number" ? targetPort : targetPort()
      const from = client.remoteAddress?.startsWith("127.") ? { localAddress: client.remoteAddress } : {}
      const upstream = Net.connect({ host: targetHost, port, allowHalfOpen: true, ...from })
      sockets.add(client)
      sockets.add(upstream)
      const drop = () => {
        client.destroy()
        upstream.destroy()
        sockets.delete(client)
        sockets.delete(upstream)
      }
      client.on("error", drop).on("close", drop)
      upstream.on("error", drop).on("close", drop)
      client.pipe(upstream)
      upstream.pipe(client)
    })
    const listen = (port: number) =>
      Effect.async<number>((resume) => {
        server.listen(port, "127.0.0.1", () => resume(Effect.succeed((server.address() as Net.AddressInfo).port)))
      })
    const port = yield* Effect.acquireRelease(listen(0), () =>
      Effect.sync(() => {
        for (const s of sockets) s.destroy()
        server.close()
      }))
    const cut = Effect.async<void>((resume) => {
      server.close(() => resume(Effect.void))
      for (const s of sockets) s.resetAndDestroy()
      sockets.clear()
    })
    return { port, cut, restore: Effect.asVoid(listen(port)) }
  })
