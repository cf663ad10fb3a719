/**
 * The socket server: accepts TCP connections and runs each one in its own
 * supervised fiber, which consumes the connection's frames as a Stream and
 * dispatches them through the command table. A failure in one connection is
 * logged with its cause and answered with INTERNAL; it touches no other.
 */
import { decodeEvent, type FrameEvent, FrameTooLarge, Internal, type ProtocolError, toErrorFrame } from "@parley/protocol"
import { Cause, Effect, Exit, FiberSet, Mailbox, Stream } from "effect"
import * as Net from "node:net"
import { checkAccess, type CommandTable, makeCommands } from "./Command.ts"
import { Connection } from "./Connection.ts"
import { GroupCommit } from "./GroupCommit.ts"
import { Presence } from "./Presence.ts"
import { ServerConfig, type ServerSettings } from "./ServerConfig.ts"
import { SessionsRepo } from "./SessionsRepo.ts"

const tooLarge = (max: number) =>
  new FrameTooLarge({ message: `the line is longer than ${max} bytes; it was discarded` })

const internal = toErrorFrame(new Internal({ message: "the server failed to handle this request" }))

/** Handles one framer event on a connection; never fails. */
const handleEvent = (commands: CommandTable, conn: Connection, event: FrameEvent): Effect.Effect<void> => {
  if (conn.closing !== undefined) return Effect.void
  if (event._tag === "TooLarge") {
    return Effect.zipRight(conn.awaitAcks, Effect.sync(() => conn.send(toErrorFrame(tooLarge(conn.settings.maxFrameBytes)))))
  }
  const decoded = decodeEvent(event)
  if (decoded._tag === "Left") {
    const { error, id } = decoded.left
    return Effect.zipRight(conn.awaitAcks, Effect.sync(() => conn.send(toErrorFrame(error, id))))
  }
  const command = decoded.right
  const handler = commands[command.command] as CommandTable["PING"]
  const denied = checkAccess(handler.access, conn)
  const run: Effect.Effect<void, ProtocolError> = denied !== undefined
    ? Effect.fail(denied)
    : command.command === "MSG"
    ? handler.handle(command as never, conn)
    // replies keep request order: anything but a MSG waits for this connection's ACKs
    : Effect.zipRight(conn.awaitAcks, handler.handle(command as never, conn))
  return run.pipe(
    Effect.catchAll((error) =>
      Effect.zipRight(conn.awaitAcks, Effect.sync(() => conn.send(toErrorFrame(error, command.id))))
    ),
    Effect.catchAllCause((cause) =>
      Effect.zipRight(
        Effect.logError(`${command.command} failed`, cause),
        Effect.sync(() => conn.send(command.id === undefined ? internal : { ...internal, id: command.id }))
      )
    )
  )
}

let nextConnectionId = 1

/** Serves one accepted socket until it closes. */
interface Services {
  readonly settings: ServerSettings
  readonly commands: CommandTable
  readonly presence: Presence
  readonly sessions: SessionsRepo
  readonly commit: GroupCommit
}

const serve = (socket: Net.Socket, { commands, commit, presence, sessions, settings }: Services) => {
  const connectionId = nextConnectionId++
  return Effect.gen(function*() {
    const inbox = yield* Mailbox.make<FrameEvent>()
    const conn = new Connection(
      connectionId,
      socket,
      socket.remoteAddress ?? "unknown",
      inbox,
      settings
    )
    socket.setNoDelay(true)
    conn.attach()
    conn.hello()
    yield* Effect.forkScoped(conn.outbox.run)
    yield* Effect.logInfo("connection opened")

    yield* Effect.addFinalizer((exit) =>
      Effect.gen(function*() {
        if (conn.closing === undefined && Exit.isInterrupted(exit)) {
          conn.close("shutdown", { type: "BYE", reason: "shutdown" })
        }
        // the writer fiber may already be gone (interrupted with us): hand the last frames over directly
        conn.outbox.flushNow()
        socket.end()
        if (conn.auth !== undefined) {
          presence.depart(conn)
          yield* commit.write(sessions.close(conn.auth.sessionId, new Date().toISOString()))
        }
        setTimeout(() => socket.destroy(), 2000).unref()
        yield* Effect.logInfo("connection closed").pipe(
          Effect.annotateLogs({ reason: conn.closing ?? "peer closed", ...(conn.auth ? { user: conn.auth.username } : {}) })
        )
      }).pipe(Effect.uninterruptible)
    )

    if (settings.idleTimeoutSeconds > 0) {
      const timeoutMs = settings.idleTimeoutSeconds * 1000
      yield* Effect.forkScoped(Effect.gen(function*() {
        while (conn.closing === undefined) {
          const left = conn.lastFrameAt + timeoutMs - Date.now()
          if (left <= 0) {
            conn.close("idle", { type: "BYE", reason: "idle" })
            return
          }
          yield* Effect.sleep(left)
        }
      }))
    }

    yield* Mailbox.toStream(inbox).pipe(
      Stream.runForEach((event) => Effect.zipRight(handleEvent(commands, conn, event), Effect.sync(() => conn.maybeResume())))
    )
  }).pipe(
    Effect.scoped,
    Effect.catchAllCause((cause) =>
      Cause.isInterruptedOnly(cause) ? Effect.void : Effect.logError("connection failed", cause)
    ),
    Effect.annotateLogs({ conn: connectionId, addr: `${socket.remoteAddress}:${socket.remotePort}` })
  )
}

/** The TCP listener; resolves to the address it listens on. */
export class Listener extends Effect.Service<Listener>()("@parley/server/Listener", {
  scoped: Effect.gen(function*() {
    const settings = yield* ServerConfig
    const sessions = yield* SessionsRepo
    const closed = yield* sessions.closeAllOpen(new Date().toISOString())
    if (closed > 0) yield* Effect.logWarning(`closed ${closed} sessions left open by an earlier crash`)

    const services: Services = {
      settings,
      sessions,
      commands: yield* makeCommands,
      presence: yield* Presence,
      commit: yield* GroupCommit
    }
    const run = yield* FiberSet.makeRuntime<never>()
    const server = Net.createServer({ noDelay: true })
    server.on("connection", (socket) => {
      run(serve(socket, services))
    })
    const address = yield* Effect.acquireRelease(
      Effect.async<Net.AddressInfo, Error>((resume) => {
        const onError = (error: Error) => resume(Effect.fail(error))
        server.once("error", onError)
        server.listen(settings.port, settings.host, () => {
          server.off("error", onError)
          resume(Effect.succeed(server.address() as Net.AddressInfo))
        })
      }),
      () =>
        Effect.gen(function*() {
          yield* Effect.logInfo("shutting down: no longer accepting connections")
          server.close()
        })
    ).pipe(Effect.orDie)
    return { address, server } as const
  })
}) {}
