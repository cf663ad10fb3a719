/**
 * A defect that escapes a connection's worker (here: a handler dies, and so
 * does the mapper that would answer it INTERNAL) must not leave a zombie: the
 * connection is told, closed, and its end recorded (presence, session, log)
 * exactly as for any other close; other connections are untouched. The fault
 * is injected into the command table; the socket is a real one.
 */
import { assert, describe, it } from "@effect/vitest"
import { type Clock, Deferred, Effect, FiberSet, Queue } from "effect"
import * as Net from "node:net"
import type { Commands } from "../src/Command.ts"
import type { Connection } from "../src/Connection.ts"
import type { GroupCommit } from "../src/GroupCommit.ts"
import type { Member } from "../src/Hub.ts"
import { Metrics } from "../src/Metrics.ts"
import { OutboxFlusher } from "../src/Outbox.ts"
import type { Presence } from "../src/Presence.ts"
import { accept, connectionIds, fastPath, makeWake, type Run, type Services } from "../src/Server.ts"
import { defaults } from "../src/ServerConfig.ts"
import type { SessionsRepo } from "../src/SessionsRepo.ts"
import { SocketsPerAddress } from "../src/SocketsPerAddress.ts"

interface Recorded {
  readonly departed: Array<string>
  readonly sessionsClosed: Array<number>
}

/** Services whose PING logs the connection in (as `name`) and whose BOOM dies beyond repair. */
const stubServices = (
  run: Run,
  recorded: Recorded,
  sessionClosed: Deferred.Deferred<void>,
  metrics: Metrics,
  clock: Clock.Clock
) => {
  let sessionId = 0
  const commands = {
    msgNow: () => false,
    table: {
      PING: {
        access: "any",
        handle: (_: unknown, conn: Connection) =>
          Effect.sync(() => {
            conn.logIn({
              userId: ++sessionId,
              username: `user${sessionId}`,
              rooms: false,
              sessionId,
              tokenHash: "",
              connectTime: new Date().toISOString()
            })
            conn.send({ type: "PONG" })
          })
      },
      USERS: { access: "any", handle: () => Effect.die(new Error("injected: the handler died")) }
    },
    failure: () => Effect.die(new Error("injected: answering INTERNAL died too"))
  } as unknown as Commands
  const services: Services = {
    perAddress: new SocketsPerAddress(),
    flusher: new OutboxFlusher(),
    clock,
    nextConnectionId: connectionIds(),
    settings: { ...defaults, msgRate: 0, maxConnsPerIp: 0, authTimeoutSeconds: 0, idleTimeoutSeconds: 0 },
    sessions: {
      close: (id: number) =>
        Effect.zipRight(
          Effect.sync(() => void recorded.sessionsClosed.push(id)),
          Deferred.succeed(sessionClosed, undefined)
        )
    } as unknown as SessionsRepo,
    live: new Set(),
    commands,
    fast: fastPath(commands),
    presence: { depart: (peer: Member) => void recorded.departed.push(peer.auth.username) } as unknown as Presence,
    commit: { write: <A>(effect: Effect.Effect<A>) => effect } as unknown as GroupCommit,
    metrics,
    wake: (conn) => wake(conn)
  }
  const wake = makeWake(services, run)
  return services
}

/** A line client: every line the server sends, and the moment the server ends the socket. */
const lineClient = (port: number) =>
  Effect.gen(function*() {
    const lines = yield* Queue.unbounded<string>()
    const socket = Net.connect(port, "127.0.0.1")
    let buffer = ""
    socket.setEncoding("utf8")
    socket.on("data", (chunk: string) => {
      buffer += chunk
      let nl: number
      while ((nl = buffer.indexOf("\n")) >= 0) {
        Queue.unsafeOffer(lines, buffer.slice(0, nl))
        buffer = buffer.slice(nl + 1)
      }
    })
    socket.on("end", () => Queue.unsafeOffer(lines, "<end>"))
    socket.on("error", () => Queue.unsafeOffer(lines, "<error>"))
    yield* Effect.addFinalizer(() => Effect.sync(() => socket.destroy()))
    const next = Queue.take(lines).pipe(
      Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error("no line within 5 s") })
    )
    return { send: (line: string) => Effect.sync(() => socket.write(line + "\n")), next }
  })

describe("a defect in a connection's worker", () => {
  it.scoped("closes that connection with INTERNAL and records its end; others go on", () =>
    Effect.gen(function*() {
      const recorded: Recorded = { departed: [], sessionsClosed: [] }
      const run = yield* FiberSet.makeRuntime<never>()
      const sessionClosed = yield* Deferred.make<void>()
      const metrics = yield* Metrics
      const services = stubServices(run, recorded, sessionClosed, metrics, yield* Effect.clock)
      const server = Net.createServer({ allowHalfOpen: true }, (socket) => accept(socket, services))
      yield* Effect.acquireRelease(
        Effect.async<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void))),
        () => Effect.sync(() => server.close())
      )
      const port = (server.address() as Net.AddressInfo).port

      const victim = yield* lineClient(port)
      const bystander = yield* lineClient(port)
      assert.include(yield* victim.next, "HELLO")
      assert.include(yield* bystander.next, "HELLO")
      yield* victim.send("{\"command\":\"PING\"}")
      assert.include(yield* victim.next, "PONG")
      yield* bystander.send("{\"command\":\"PING\"}")
      assert.include(yield* bystander.next, "PONG")

      yield* victim.send("{\"command\":\"USERS\",\"id\":\"u1\"}")
      const error = JSON.parse(yield* victim.next)
      assert.strictEqual(error.type, "ERROR")
      assert.strictEqual(error.code, "INTERNAL")
      assert.strictEqual(yield* victim.next, "<end>", "the failed connection was not closed")

      // its end is recorded like any other: presence departed, session closed, no longer live
      yield* Deferred.await(sessionClosed).pipe(
        Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error("the session was never closed") })
      )
      assert.deepStrictEqual(recorded.departed, ["user1"])
      assert.deepStrictEqual(recorded.sessionsClosed, [1])
      assert.strictEqual(services.live.size, 1)
      assert.strictEqual(metrics.counts.closed.failed, 1)

      // the other connection is untouched
      yield* bystander.send("{\"command\":\"PING\"}")
      assert.include(yield* bystander.next, "PONG")
    }).pipe(Effect.provide(Metrics.Default)))
})
