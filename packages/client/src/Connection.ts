/**
 * One link to a Parley server over any `Transport` (TCP in Node, a WebSocket in a browser):
 * decode the server's frames, write commands in order through one writer fiber, correlate
 * replies to requests by `id`, and notice a dead link by heartbeat. It knows nothing of logins
 * or reconnects; `ChatClient` opens a new one for every attempt. No `node:*` import here.
 */
import { Disconnect, MAX_FRAME_BYTES, MAX_TEXT_CHARS, Ping, PROTOCOL_VERSION, type RequestId } from "@parley/protocol"
import { Chunk, Deferred, Duration, Effect, Either, Exit, type FiberId, Option, Queue, Schema } from "effect"
import { ConnectionLost, LoginRejected } from "./ClientError.ts"
import { encodeFrame, Incoming, type Outgoing, type RoomHello as Hello, withId } from "./Frames.ts"
import type { Transport, TransportError } from "./Transport.ts"

/** What a BYE reason means to the person at the client (the connection retries by itself). */
const byeReasons: Readonly<Record<string, string>> = {
  idle: "idle for too long",
  slow_consumer: "this client read too slowly",
  shutdown: "the server is shutting down",
  too_many_connections: "too many connections from this address; close some",
  auth_timeout: "not logged in in time",
  revoked: "this session was revoked from one of your sessions; log in again to continue",
  locked: "a server admin locked this account"
}

/** Where and how to dial. */
export interface ConnectionOptions {
  /** How to reach the server: `TcpTransport.make({ host, port, tls })` in Node, `WebSocketTransport.make(url)` in a browser. */
  readonly transport: Transport
  /** How long opening the link may take (default 10 s). */
  readonly connectTimeout?: Duration.DurationInput | undefined
  /** How long the server may take to greet with HELLO (default 10 s). */
  readonly helloTimeout?: Duration.DurationInput | undefined
  /** Silence after which a PING is sent (default 5 s). */
  readonly heartbeatInterval?: Duration.DurationInput | undefined
  /** How long a PONG may take before the link is declared dead (default 5 s). */
  readonly heartbeatTimeout?: Duration.DurationInput | undefined
}

/** A command as the client builds it: the `id` is the connection's business. */
export type { Outgoing } from "./Frames.ts"

/** An open link. */
export interface Connection {
  /** `host:port` or the URL, for messages. */
  readonly address: string
  /** The server's greeting; fails when it does not come or is not protocol v1. */
  readonly hello: Effect.Effect<Hello, ConnectionLost | LoginRejected>
  /** Sends `command` with a fresh numeric `id` and waits for the reply carrying it (possibly an ERROR). */
  readonly request: (command: Outgoing) => Effect.Effect<Incoming, ConnectionLost>
  /** Queues `command` as it is (its own `id`, if any); false when the link is already gone. */
  readonly write: (command: Outgoing) => boolean
  /** Waits until the link ends and says why. */
  readonly closed: Effect.Effect<ConnectionLost>
  /** Ends the link now (a dead heartbeat, a protocol violation). */
  readonly kill: (reason: string) => Effect.Effect<void>
  /** DISCONNECT, then wait briefly for BYE and the server's close. */
  readonly goodbye: Effect.Effect<void>
}

const decodeFrame = Schema.decodeUnknownEither(Incoming)

/** Decodes one server line, or undefined when it is not a frame this client knows. */
const parseServerLine = (line: string): Incoming | undefined => {
  let json: unknown
  try {
    json = JSON.parse(line)
  } catch {
    return undefined
  }
  const result = decodeFrame(json)
  return Either.isRight(result) ? result.right : undefined
}

/** One link's moving parts, shared by its reader, writer, heartbeat and requests. */
interface Link {
  readonly address: string
  readonly fiberId: FiberId.FiberId
  readonly closed: Deferred.Deferred<ConnectionLost>
  readonly hello: Deferred.Deferred<Hello, LoginRejected>
  /** Requests waiting for the reply with their `id`. */
  readonly pending: Map<RequestId, Deferred.Deferred<Incoming, ConnectionLost>>
  readonly outgoing: Queue.Queue<string>
  nextId: number
  /** Frames (or skipped ones) received so far: any of them shows the link alive. */
  received: number
  /** Why the server said BYE, when it did. */
  byeReason: string | undefined
  revoked: boolean
  isClosed: boolean
}

const terminate = (link: Link, reason: string) => {
  if (link.isClosed) return
  link.isClosed = true
  const lost = new ConnectionLost(link.revoked ? { reason, revoked: link.revoked } : { reason })
  for (const waiter of link.pending.values()) Deferred.unsafeDone(waiter, Exit.fail(lost))
  link.pending.clear()
  Deferred.unsafeDone(link.closed, Exit.succeed(lost))
}

/**
 * A HELLO that did not decode: lenient with one that is v1 but not quite to the letter (say,
 * limits missing), where the protocol's defaults apply; anything but protocol 1 is refused
 * clearly. Undefined when the line is not a HELLO at all.
 */
const lenientHello = (text: string, address: string): Exit.Exit<Hello, LoginRejected> | undefined => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof json !== "object" || json === null || (json as { type?: unknown }).type !== "HELLO") return undefined
  const raw = json as { protocol?: unknown; server?: unknown; limits?: { max_text_chars?: unknown } }
  if (raw.protocol !== PROTOCOL_VERSION) {
    return Exit.fail(
      new LoginRejected({
        code: "PROTOCOL",
        reason: `${address} speaks protocol ${JSON.stringify(raw.protocol)}; this client speaks ${PROTOCOL_VERSION}: ` +
          `use a client that matches the server`
      })
    )
  }
  const chars = raw.limits?.max_text_chars
  return Exit.succeed({
    type: "HELLO",
    protocol: 1,
    server: typeof raw.server === "string" ? raw.server : "unknown",
    limits: {
      max_frame_bytes: MAX_FRAME_BYTES,
      max_text_chars: typeof chars === "number" && Number.isInteger(chars) && chars > 0 ? chars : MAX_TEXT_CHARS
    }
  })
}

/** One line from the server: the HELLO, a reply to a request, or (to `onFrame`) anything else. */
const onLine = (link: Link, onFrame: (frame: Incoming) => void) => (text: string) => {
  const frame = parseServerLine(text)
  if (frame === undefined) {
    const hello = lenientHello(text, link.address)
    if (hello !== undefined) Deferred.unsafeDone(link.hello, hello)
    return
  }
  if (frame.type === "HELLO") {
    Deferred.unsafeDone(link.hello, Exit.succeed(frame))
    return
  }
  if (frame.type === "BYE" && frame.id === undefined) {
    link.byeReason = frame.reason === undefined ? "no reason given" : (byeReasons[frame.reason] ?? frame.reason)
    link.revoked = frame.reason === "revoked"
  }
  const id = "id" in frame ? frame.id : undefined
  if (id !== undefined) {
    const waiter = link.pending.get(id)
    if (waiter !== undefined) {
      link.pending.delete(id)
      Deferred.unsafeDone(waiter, Exit.succeed(frame))
      return
    }
  }
  onFrame(frame)
}

/** Waits in the scope for the transport to end the link; it ends with the reason a person can act on. */
const watchEnd = (link: Link, ended: Effect.Effect<void, TransportError>, transport: Transport) =>
  ended.pipe(
    Effect.exit,
    Effect.flatMap((exit) =>
      Effect.sync(() => {
        if (link.byeReason !== undefined) return terminate(link, `the server said goodbye (${link.byeReason})`)
        if (Exit.isSuccess(exit)) {
          const hint = link.received === 0 && transport.silenceHint !== ""
            ? ` before its HELLO${transport.silenceHint}`
            : ""
          return terminate(link, `${link.address} closed the connection${hint}`)
        }
        terminate(
          link,
          exit.cause._tag === "Fail" ? exit.cause.error.reason : `the link to ${link.address} was interrupted`
        )
      })
    ),
    Effect.forkScoped
  )

/** Writes what is queued, in batches, in the scope. */
const writeQueued = (link: Link, send: (frames: ReadonlyArray<string>) => Effect.Effect<void, TransportError>) =>
  Effect.gen(function*() {
    while (true) {
      const frames = yield* Queue.takeBetween(link.outgoing, 1, 4096)
      const ok = yield* send(Chunk.toReadonlyArray(frames)).pipe(
        Effect.as(true),
        Effect.catchAll(() => Effect.succeed(false))
      )
      if (!ok) return terminate(link, `lost the connection to ${link.address} while writing`)
    }
  }).pipe(Effect.forkScoped)

const makeRequest = (link: Link) => (command: Outgoing): Effect.Effect<Incoming, ConnectionLost> =>
  Effect.suspend(() => {
    if (link.isClosed) return Effect.fail(new ConnectionLost({ reason: `not connected to ${link.address}` }))
    const id = link.nextId++
    const waiter = Deferred.unsafeMake<Incoming, ConnectionLost>(link.fiberId)
    link.pending.set(id, waiter)
    Queue.unsafeOffer(link.outgoing, encodeFrame(withId(command, id)))
    return Deferred.await(waiter).pipe(Effect.ensuring(Effect.sync(() => link.pending.delete(id))))
  })

const awaitHello = (link: Link, options: ConnectionOptions): Effect.Effect<Hello, ConnectionLost | LoginRejected> => {
  const helloTimeout = Duration.decode(options.helloTimeout ?? "10 seconds")
  return Effect.raceFirst(
    Deferred.await(link.hello),
    Effect.flatMap(Deferred.await(link.closed), (lost) => Effect.fail(lost))
  ).pipe(
    Effect.timeoutFail({
      duration: helloTimeout,
      onTimeout: () =>
        new ConnectionLost({
          reason: `${link.address} sent no HELLO within ${
            Duration.format(helloTimeout)
          }: is it a Parley server${options.transport.silenceHint}?`
        })
    })
  )
}

/** A PING after a quiet interval; no PONG in time means the link is dead. */
const heartbeat = (link: Link, request: ReturnType<typeof makeRequest>, options: ConnectionOptions) => {
  const interval = Duration.decode(options.heartbeatInterval ?? "5 seconds")
  const timeout = Duration.decode(options.heartbeatTimeout ?? "5 seconds")
  return Effect.gen(function*() {
    while (true) {
      const before = link.received
      yield* Effect.sleep(interval)
      if (link.received !== before) continue
      const pong = yield* request(new Ping({ command: "PING" }, true)).pipe(Effect.timeout(timeout), Effect.option)
      if (Option.isNone(pong)) {
        return terminate(
          link,
          `no reply to PING from ${link.address} within ${Duration.format(timeout)}: the link is dead`
        )
      }
    }
  }).pipe(Effect.forkScoped)
}

/**
 * Dials and returns once the link is up (TCP connected and TLS handshaken, or the WebSocket
 * open). The link lives as long as the scope; use `closed` to learn when the server or the
 * network ended it first.
 */
export const open = (
  options: ConnectionOptions,
  /** Called in arrival order with every frame that does not answer a `request` (events, ACKs of writes). */
  onFrame: (frame: Incoming) => void
) =>
  Effect.gen(function*() {
    const transport = options.transport
    const address = transport.address
    const fiberId = yield* Effect.fiberId
    const link: Link = {
      address,
      fiberId,
      closed: Deferred.unsafeMake<ConnectionLost>(fiberId),
      hello: Deferred.unsafeMake<Hello, LoginRejected>(fiberId),
      pending: new Map(),
      outgoing: yield* Queue.unbounded<string>(),
      nextId: 1,
      received: 0,
      byeReason: undefined,
      revoked: false,
      isClosed: false
    }
    const line = onLine(link, onFrame)
    const wire = yield* transport.open({ connectTimeout: Duration.decode(options.connectTimeout ?? "10 seconds") }, {
      onFrame: (text) => {
        link.received++
        line(text)
      },
      onSkipped: () => {
        link.received++
      }
    }).pipe(Effect.mapError((e) => e.rejected ?? new ConnectionLost({ reason: e.reason })))
    yield* watchEnd(link, wire.ended, transport)
    yield* writeQueued(link, wire.send)
    const request = makeRequest(link)
    yield* heartbeat(link, request, options)

    return {
      address,
      hello: awaitHello(link, options),
      request,
      write: (command) => !link.isClosed && Queue.unsafeOffer(link.outgoing, encodeFrame(command)),
      closed: Deferred.await(link.closed),
      kill: (reason) => Effect.sync(() => terminate(link, reason)),
      goodbye: request(new Disconnect({ command: "DISCONNECT" }, true)).pipe(
        Effect.zipRight(Deferred.await(link.closed)),
        Effect.timeout("2 seconds"),
        Effect.ignore
      )
    } satisfies Connection
  })
