/**
 * The socket server: accepts TCP, TLS and (on the web port, see
 * `WebServer.ts`) WebSocket connections; each connection's frames
 * (framed in order as they arrive) are handled one at a time by a worker
 * fiber of its own, supervised in a FiberSet, and dispatched through the
 * command table. A failure in one connection is logged with its cause and
 * answered with INTERNAL; it touches no other.
 */
import {
  type Command,
  decodeEvent,
  encodeFrame,
  type FrameEvent,
  FrameTooLarge,
  type ProtocolError,
  type RequestId,
  type ServerFrame,
  toErrorFrame
} from "@parley/protocol"
import { Cause, Clock, DateTime, Deferred, Effect, Exit, FiberSet } from "effect"
import * as Net from "node:net"
import { type Commands, dispatch, makeCommands } from "./Command.ts"
import { Connection, type ConnectionContext, type FastPath, type Inbound } from "./Connection.ts"
import { GroupCommit } from "./GroupCommit.ts"
import { isMember } from "./Hub.ts"
import { Metrics } from "./Metrics.ts"
import { OutboxFlusher } from "./Outbox.ts"
import { Presence } from "./Presence.ts"
import { ServerConfig, type ServerSettings } from "./ServerConfig.ts"
import { SessionsRepo } from "./SessionsRepo.ts"
import { SocketsPerAddress } from "./SocketsPerAddress.ts"
import { describeFault } from "./StorageHealth.ts"
import { makeTlsServer } from "./Tls.ts"
import { TokensRepo } from "./TokensRepo.ts"
import type { FrameSource, Transport } from "./Transport.ts"
import { ensureWebBuilt } from "./WebBuild.ts"
import { defaultWebRoot, makeWebServer } from "./WebServer.ts"

const tooLarge = (max: number) =>
  new FrameTooLarge({ message: `the line is longer than ${max} bytes; it was discarded` })

/** Answers with an ERROR frame, after any pending ACKs so replies keep request order. */
const replyError = (conn: Connection, error: ProtocolError, id: RequestId | undefined, command?: string) =>
  Effect.zipRight(
    conn.awaitAcks(),
    Effect.suspend(() => {
      const frame = toErrorFrame(error, id)
      conn.send(frame)
      return Effect.logInfo("error reply").pipe(
        Effect.annotateLogs(command === undefined ? { code: frame.code } : { code: frame.code, command })
      )
    })
  )

/**
 * The fast path, run in the socket's data handler: a MSG that `msgNow` can
 * queue for commit at once is done; anything else goes to the worker,
 * decoded if it is a command (so it is not decoded twice).
 */
export const fastPath = (commands: Commands) => (conn: Connection, event: FrameEvent): true | Inbound => {
  if (event._tag !== "Line") return event
  const decoded = decodeEvent(event)
  if (decoded._tag === "Left") return event
  const command = decoded.right
  try {
    if (command.command === "MSG" && commands.msgNow(command, conn)) return true
  } catch (defect) {
    // it may have half run (a token taken, the message queued): running it again could store it
    // twice, so the worker answers it INTERNAL instead
    return { _tag: "Faulted", command, defect }
  }
  return { _tag: "Decoded", command }
}

/** Handles one inbound frame on a connection; never fails. */
export const handleEvent = (commands: Commands, conn: Connection, event: Inbound): Effect.Effect<void> => {
  if (conn.closing !== undefined) return Effect.void
  if (event._tag === "TooLarge") return replyError(conn, tooLarge(conn.settings.maxFrameBytes), undefined)
  if (event._tag === "Faulted") {
    return Effect.map(commands.failure(Cause.die(event.defect), event.command), (frame) => conn.send(frame))
  }
  let command: Command
  if (event._tag === "Decoded") command = event.command
  else {
    const decoded = decodeEvent(event)
    if (decoded._tag === "Left") return replyError(conn, decoded.left.error, decoded.left.id)
    command = decoded.right
    if (command.command === "MSG" && commands.msgNow(command, conn)) return Effect.void
  }
  const handled = dispatch(commands.table, command.command, command, conn)
  // replies keep request order: anything but a MSG waits for this connection's ACKs
  const run = command.command === "MSG" ? handled : Effect.zipRight(conn.awaitAcks(), handled)
  return run.pipe(
    Effect.catchAll((error) => replyError(conn, error, command.id, command.command)),
    Effect.catchAllCause((cause) => Effect.map(commands.failure(cause, command), (frame) => conn.send(frame)))
  )
}

export interface Services extends ConnectionContext {
  readonly settings: ServerSettings
  readonly commands: Commands
  readonly presence: Presence
  readonly sessions: SessionsRepo
  readonly commit: GroupCommit
  readonly live: Set<Connection>
  /** Starts a connection's worker when it has frames to handle. */
  readonly wake: (conn: Connection) => void
  readonly fast: FastPath
  /** Open connections per address key (IPv6 per /64), for `maxConnsPerIp`. */
  readonly perAddress: SocketsPerAddress
  readonly metrics: Metrics
  /** This server's outboxes waiting to be written. */
  readonly flusher: OutboxFlusher
  /** The next connection's id (1, 2, … per server, as logged). */
  readonly nextConnectionId: () => number
}

/** Connection ids of one server: 1, 2, … */
export const connectionIds = (): () => number => {
  let next = 1
  return () => next++
}

const tooMany = encodeFrame({ type: "BYE", reason: "too_many_connections" })

/**
 * Serves one accepted socket (TCP, TLS, or a WebSocket's transport with its
 * message framer). The connection's frames are handled in
 * arrival order by one supervised worker fiber at a time, started when
 * frames arrive and finished when none are left: an idle connection parks
 * no fiber (a parked fiber costs ~10 KiB; an idle connection must cost a
 * few). The last worker, once the connection has ended, records its end.
 */
export const accept = (socket: Transport, services: Services, framer?: FrameSource) => {
  const remote = socket.remoteAddress ?? "unknown"
  services.metrics.connectionAccepted()
  // counted before anything else is done for it: a host holding its share gets a BYE, not a HELLO
  if (!admit(socket, services)) {
    services.metrics.connectionClosed("too_many_connections")
    socket.on("error", () => {})
    socket.end(tooMany)
    setTimeout(() => socket.destroy(), 1000).unref()
    return
  }
  const conn = new Connection(services.nextConnectionId(), socket, remote, services, framer)
  services.live.add(conn)
  socket.setNoDelay(true)
  conn.attach(services.wake, services.fast)
  conn.hello()
}

/**
 * Counts a socket against its address's share (`--max-conns-per-ip`) for as
 * long as it is open; false, counting nothing, when the share is used up.
 */
const admit = (socket: Transport, { perAddress, settings }: Services): boolean =>
  settings.maxConnsPerIp <= 0 || perAddress.hold(socket, settings.maxConnsPerIp)

export type Run = <A, E>(effect: Effect.Effect<A, E>) => unknown

const annotate = (conn: Connection) =>
  Effect.annotateLogs({ conn: conn.connectionId, addr: `${conn.remoteAddress}:${conn.socket.remotePort}` })

/** Starts a worker for a connection that has frames (or has ended), unless one is running. */
export const makeWake = (services: Services, run: Run) => (conn: Connection): void => {
  if (conn.worker.wake()) run(worker(conn, services))
}

/** Handles a connection's frames until none are left; the last one, once it ended, records the end. */
const worker = (conn: Connection, services: Services): Effect.Effect<void> => {
  const { commands } = services
  const work: Effect.Effect<void> = Effect.suspend(() => {
    const frames = conn.takeFrames()
    if (frames.length === 0) {
      if (conn.finished) {
        // the ACKs of MSGs still being committed go out before the socket is ended
        return Effect.zipRight(
          conn.awaitAcks(),
          Effect.suspend(() => {
            conn.worker.stopped()
            return cleanup(conn, services)
          })
        )
      }
      return Effect.flatMap(conn.worker.linger(), (more) => (more ? work : Effect.void))
    }
    return Effect.zipRight(
      Effect.forEach(
        frames,
        // a client that does not read its replies is not read either
        (event) =>
          conn.outbox.overLimit
            ? Effect.zipRight(conn.outbox.whenBelowLimit(), Effect.suspend(() => handleEvent(commands, conn, event)))
            : handleEvent(commands, conn, event),
        { discard: true }
      ),
      Effect.suspend(() => {
        conn.maybeResume()
        return work
      })
    )
  })
  // logged by the connection's first worker (its first line, or its end), not by a fiber of its own
  const first = conn.worker.firstRun() ? Effect.zipRight(Effect.logInfo("connection opened"), work) : work
  return first.pipe(
    Effect.catchAllCause((cause) => {
      conn.worker.stopped()
      return Cause.isInterruptedOnly(cause) ? Effect.void : failed(conn, services, cause)
    }),
    annotate(conn)
  )
}

const workerFailed: ServerFrame = {
  type: "ERROR",
  code: "INTERNAL",
  message: "the server failed while handling this connection and closed it; reconnect to continue"
}

/**
 * A defect escaped a connection's worker (not one command's handler: those
 * are answered INTERNAL and the connection goes on). Its state can no longer
 * be trusted, so it is told, closed, and its end recorded like any other.
 */
const failed = (conn: Connection, services: Services, cause: Cause.Cause<unknown>): Effect.Effect<void> =>
  Effect.zipRight(
    Effect.logError("connection failed; closing it", cause),
    Effect.suspend(() => {
      conn.closeQuietly("failed", workerFailed)
      return cleanup(conn, services)
    })
  )

/**
 * Records the end of a connection, once: presence, session, log line. It is
 * uninterruptible, so a shutdown that interrupts the worker running it still
 * records `disconnect_time`; later callers wait for the first one.
 */
const cleanup = (conn: Connection, { commit, live, metrics, presence, sessions }: Services): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (!conn.beginCleanup()) return Deferred.await(conn.ended)
    live.delete(conn)
    metrics.connectionClosed(conn.closing ?? "peer_closed")
    conn.outbox.close()
    conn.socket.end()
    if (conn.closing !== "slow_consumer") setTimeout(() => conn.socket.destroy(), 5000).unref()
    return Effect.gen(function*() {
      if (isMember(conn)) {
        presence.depart(conn)
        const { sessionId } = conn.auth
        // a database that is out (a full disk, PostgreSQL down) must not stop the close, nor the
        // shutdown: the session stays open in the table, and the next start closes it
        yield* commit.write(sessions.close(sessionId, DateTime.formatIso(yield* DateTime.now))).pipe(
          Effect.catchAllCause((cause) =>
            Effect.logWarning(`could not record the end of session ${sessionId}: ${describeFault(cause)}`)
          )
        )
      }
      yield* Effect.logInfo("connection closed").pipe(
        Effect.annotateLogs({
          reason: conn.closing ?? "peer closed",
          ...(conn.auth ? { user: conn.auth.username } : {})
        })
      )
    }).pipe(
      Effect.ensuring(Deferred.done(conn.ended, Exit.void)),
      annotate(conn),
      Effect.uninterruptible
    )
  })

/**
 * Closes connections silent for the idle timeout or not logged in within the
 * authentication timeout (nothing but a successful CONNECT stops that clock),
 * and drops readers stalled behind their queue.
 */
const sweep = (live: Set<Connection>, timeoutMs: number, authTimeoutMs: number) =>
  Effect.map(Clock.currentTimeMillis, (now) => {
    const deadline = now - timeoutMs
    for (const conn of live) {
      if (conn.closing !== undefined) continue
      if (conn.outbox.stalled(now)) conn.outbox.overflow()
      else if (authTimeoutMs > 0 && conn.auth === undefined && now - conn.openedAt >= authTimeoutMs) {
        conn.close("auth_timeout", { type: "BYE", reason: "auth_timeout" })
      } // a connection with frames still to handle (e.g. slowed by flood control) is not silent
      else if (timeoutMs > 0 && conn.lastFrameAt <= deadline && !conn.busy) {
        conn.close("idle", { type: "BYE", reason: "idle" })
      }
    }
  })

/**
 * Listens on `port`. From then on an error is a failed accept (EMFILE when out
 * of file descriptors): logged at most every 10 s, never fatal; accepting
 * resumes as descriptors free up.
 */
const listenOn = (server: Net.Server, port: number, host: string, run: Run, clock: Clock.Clock) =>
  Effect.async<Net.AddressInfo, Error>((resume) => {
    const onError = (error: Error) => resume(Effect.fail(error))
    server.once("error", onError)
    server.listen(port, host, () => {
      server.off("error", onError)
      let lastLogged = 0
      server.on("error", (error) => {
        const now = clock.unsafeCurrentTimeMillis()
        if (now - lastLogged < 10_000) return
        lastLogged = now
        run(Effect.logWarning(`accepting a connection failed: ${error.message}`))
      })
      resume(Effect.succeed(server.address() as Net.AddressInfo))
    })
  }).pipe(Effect.orDie)

/** Runs `effect` on every SIGHUP for as long as the scope lives. */
const onHangup = (run: Run, effect: Effect.Effect<void>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const handler = () => void run(effect)
      process.on("SIGHUP", handler)
      return handler
    }),
    (handler) => Effect.sync(() => void process.off("SIGHUP", handler))
  )

/**
 * The TLS listener, when configured: the same protocol inside TLS. A socket
 * enters `accept` once its handshake is done, exactly as a TCP one does; a
 * failed handshake (a plain-text client, garbage, a client refusing the
 * certificate, one that never finishes) only ends that socket.
 */
const makeTls = (settings: ServerSettings, services: Services, run: Run) =>
  Effect.gen(function*() {
    if (settings.tls === undefined) {
      return { server: undefined, reload: Effect.logInfo("SIGHUP ignored: no --tls-cert/--tls-key to reload") }
    }
    const { certFile, keyFile } = settings.tls
    const tls = yield* makeTlsServer(settings.tls, { noDelay: true, allowHalfOpen: true })
    // TLS sockets count per address from the TCP accept, handshake included, up to the share of
    // connections plus as many again (at least 16) for handshakes in progress: one host cannot
    // hold the descriptors with handshakes it never finishes (each also ends after 10 s). There
    // is no TLS yet to say BYE in, so a socket past that is closed at once; a finished handshake
    // then counts as a connection like any other (BYE past the share).
    const tlsSockets = new SocketsPerAddress()
    const tlsCap = services.settings.maxConnsPerIp + Math.max(16, services.settings.maxConnsPerIp)
    tls.server.on("connection", (raw: Net.Socket) => {
      if (services.settings.maxConnsPerIp > 0 && !tlsSockets.hold(raw, tlsCap)) raw.destroy()
    })
    tls.server.on("secureConnection", (socket) => accept(socket, services))
    tls.server.on("tlsClientError", (error, socket) => {
      // Node leaves a socket whose handshake timed out open: every failed handshake ends here
      socket.destroy()
      run(
        Effect.logDebug(`TLS handshake failed: ${error.message.trim()}`).pipe(
          Effect.annotateLogs({ addr: `${socket.remoteAddress}:${socket.remotePort}` })
        )
      )
    })
    const reload = tls.reload.pipe(
      Effect.zipRight(Effect.logInfo(`SIGHUP: reloaded the TLS certificate ${certFile} and key ${keyFile}`)),
      Effect.catchAll((error) => Effect.logWarning(`SIGHUP: kept the TLS certificate in use: ${error.message}`))
    )
    return { server: tls.server, reload }
  })

/** The web port, when configured (`--web-port`): the web client and its WebSocket endpoint. */
const makeWeb = (settings: ServerSettings, services: Services, run: Run) =>
  settings.web === undefined ? Effect.succeed(undefined) : makeWebServer({
    web: settings.web,
    tls: settings.tls,
    maxFrameBytes: settings.maxFrameBytes,
    accept: (transport, framer) => accept(transport, services, framer),
    logError: (message) => run(Effect.logError(message))
  })

/**
 * The listeners (TCP, TLS, the web port, or some of them); resolves to the
 * addresses they listen on, `undefined` for one that is off.
 */
export class Listener extends Effect.Service<Listener>()("@parley/server/Listener", {
  scoped: Effect.gen(function*() {
    const settings = yield* ServerConfig
    const sessions = yield* SessionsRepo
    const tokens = yield* TokensRepo
    const startedAt = DateTime.formatIso(yield* DateTime.now)
    // a node of a cluster closes only its own: the other nodes' sessions are theirs
    const closed = yield* sessions.closeAllOpen(startedAt, settings.bus === undefined ? undefined : settings.nodeId)
    if (closed > 0) yield* Effect.logWarning(`closed ${closed} sessions left open by an earlier crash`)
    yield* tokens.purgeExpired(startedAt)

    const live = new Set<Connection>()
    const metrics = yield* Metrics
    metrics.source("connectionsOpen", () => live.size)
    const run = yield* FiberSet.makeRuntime<never>()
    const commit = yield* GroupCommit
    const flusher = new OutboxFlusher()
    commit.afterEachBatch(() => flusher.flushQueued())
    const commands = yield* makeCommands
    const services: Services = {
      perAddress: new SocketsPerAddress(),
      flusher,
      clock: yield* Effect.clock,
      nextConnectionId: connectionIds(),
      metrics,
      settings,
      sessions,
      live,
      commands,
      fast: fastPath(commands),
      presence: yield* Presence,
      commit,
      wake: (conn) => wake(conn)
    }
    const wake = makeWake(services, run)
    // one sweep for every connection: idle timeouts, and readers stalled behind their queue
    const idleMs = settings.idleTimeoutSeconds * 1000
    const authMs = settings.authTimeoutSeconds * 1000
    const shortest = Math.min(idleMs > 0 ? idleMs : Infinity, authMs > 0 ? authMs : Infinity)
    const every = Number.isFinite(shortest) ? Math.min(500, Math.max(50, shortest / 10)) : 500
    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(Effect.sleep(every), sweep(live, idleMs, authMs))))
    // a client may send its last commands and close its side at once (`printf ... | nc -q 1`):
    // the replies still go out, and the socket is ended once the connection's end is recorded
    const plain = settings.port === "off" ? undefined : Net.createServer({ noDelay: true, allowHalfOpen: true })
    plain?.on("connection", (socket) => accept(socket, services))
    const tls = yield* makeTls(settings, services, run)
    const web = yield* makeWeb(settings, services, run)
    // added before listening, so a port already in use closes the listener that did start
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* Effect.logInfo(`shutting down: closing ${live.size} connections`)
        plain?.close()
        tls.server?.close()
        web?.server.close()
        web?.server.closeIdleConnections()
        const closing = [...live]
        // every BYE goes out before anyone's end is recorded (no PRESENCE offline after a BYE)
        for (const conn of closing) conn.closeQuietly("shutdown", { type: "BYE", reason: "shutdown" })
        yield* Effect.forEach(closing, (conn) => cleanup(conn, services), { concurrency: "unbounded", discard: true })
      })
    )
    const address = plain === undefined || settings.port === "off"
      ? undefined
      : yield* listenOn(plain, settings.port, settings.host, run, services.clock)
    const tlsAddress = tls.server === undefined || settings.tls === undefined
      ? undefined
      : yield* listenOn(tls.server, settings.tls.port, settings.host, run, services.clock)
    // a fresh clone has not built the page yet: built here, once, while TCP already serves
    if (settings.web !== undefined) yield* ensureWebBuilt(settings.web.root, settings.web.root === defaultWebRoot())
    const webAddress = web === undefined || settings.web === undefined
      ? undefined
      : yield* listenOn(web.server, settings.web.port, settings.web.host, run, services.clock)
    // SIGHUP must never end the server (Node's default): with TLS it reloads the certificate (the
    // web port's too)
    const webReload = web === undefined ? Effect.void : web.reload.pipe(
      Effect.catchAll((error) => Effect.logWarning(`SIGHUP: the web port kept its TLS certificate: ${error.message}`))
    )
    yield* onHangup(run, Effect.zipRight(tls.reload, webReload))
    /** True while every listener that was started still accepts connections. */
    const listening = (): boolean =>
      (plain?.listening ?? true) && (tls.server?.listening ?? true) && (web?.server.listening ?? true)
    return { address, tlsAddress, webAddress, webSecure: web?.secure ?? false, listening } as const
  })
}) {}
