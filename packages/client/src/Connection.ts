/**
 * One TCP or TLS link to a Parley server: dial, frame and decode the server's lines,
 * write commands in order through one writer fiber, correlate replies to
 * requests by `id`, and notice a dead link by heartbeat. It knows nothing of
 * logins or reconnects; `ChatClient` opens a new one for every attempt.
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as Socket from "@effect/platform/Socket"
import {
  Disconnect,
  type FrameEvent,
  Framer,
  MAX_FRAME_BYTES,
  MAX_SERVER_FRAME_BYTES,
  MAX_TEXT_CHARS,
  Ping,
  PROTOCOL_VERSION,
  type RequestId
} from "@parley/protocol"
import { Cause, Chunk, Deferred, Duration, Effect, Either, Exit, type FiberId, Option, Queue, Schema } from "effect"
import * as Net from "node:net"
import * as Tls from "node:tls"
import { ConnectionLost, LoginRejected } from "./ClientError.ts"
import { encodeOutgoing, Incoming, type Outgoing, type RoomHello as Hello, withId } from "./Frames.ts"

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

/** TLS for a link: the server's certificate must be valid for `host` and trusted. */
export interface TlsOptions {
  /** A CA or self-signed certificate (PEM) to trust besides Node's built-in list of public CAs. */
  readonly ca?: string | Buffer | undefined
}

/** Where and how to dial. */
export interface ConnectionOptions {
  readonly host: string
  readonly port: number
  /** Speak TLS (default: plain TCP). */
  readonly tls?: TlsOptions | undefined
  /** How long the TCP dial may take (default 10 s). */
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
  /** `host:port`, for messages. */
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

const describeDialError = (error: Socket.SocketError, address: string): string => {
  if (error.reason === "OpenTimeout") return `no answer from ${address} (connect timed out)`
  if (error.reason === "Close") return `${address} closed the connection`
  const cause = error._tag === "SocketError" && "cause" in error ? error.cause : undefined
  const code = typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : undefined
  switch (code) {
    case "ECONNREFUSED":
      return `connection refused by ${address}: is the server running on that host and port?`
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `cannot resolve the host of ${address}: check --host`
    case "ECONNRESET":
    case "EPIPE":
      return `${address} reset the connection`
    case "ETIMEDOUT":
      return `no answer from ${address} (timed out)`
    default:
      return `${error.reason === "Open" ? "cannot connect to" : "lost the connection to"} ${address}: ${
        cause instanceof Error ? cause.message : String(cause)
      }`
  }
}

/** Certificate checks that failed: the server's certificate, not the network, is the problem. */
const untrusted = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_UNTRUSTED",
  "CERT_SIGNATURE_FAILURE"
])

/**
 * A TLS failure a retry cannot fix, said in one line with what to do; undefined
 * for anything else (refused, reset, timed out), which the client retries.
 */
const tlsRejection = (error: Socket.SocketError, address: string): LoginRejected | undefined => {
  const cause = error._tag === "SocketError" && "cause" in error ? error.cause : undefined
  const code = typeof cause === "object" && cause !== null && "code" in cause ? String(cause.code) : ""
  const detail = cause instanceof Error ? cause.message : code
  const reason = untrusted.has(code)
    ? `the TLS certificate of ${address} is not trusted (${detail}): pass --ca <file> with the server's certificate or its CA`
    : code === "ERR_TLS_CERT_ALTNAME_INVALID"
    ? `the TLS certificate of ${address} is not valid for that name (${detail}): use the --host its certificate names`
    : code === "CERT_HAS_EXPIRED" || code === "CERT_NOT_YET_VALID"
    ? `the TLS certificate of ${address} is out of date (${detail}): the server must renew it (and reload it with SIGHUP)`
    : code === "ERR_SSL_WRONG_VERSION_NUMBER" || code === "ERR_SSL_PACKET_LENGTH_TOO_LONG"
    ? `${address} does not speak TLS: use its TLS port (--tls-port on the server, 5556 by default) or drop --tls`
    : undefined
  return reason === undefined ? undefined : new LoginRejected({ code: "TLS", reason })
}

/**
 * The transport seam: a TCP socket, or a TLS one once its handshake is done
 * (certificate checked against `host`). Everything above it is the same.
 */
const dial = (options: ConnectionOptions): Effect.Effect<Socket.Socket, Socket.SocketError> => {
  const openTimeout = options.connectTimeout ?? "10 seconds"
  const tls = options.tls
  if (tls === undefined) {
    return NodeSocket.makeNet({ host: options.host, port: options.port, noDelay: true, openTimeout })
  }
  return NodeSocket.fromDuplex(
    Effect.acquireRelease(
      Effect.async<Tls.TLSSocket, Socket.SocketError>((resume) => {
        const socket = Tls.connect({
          host: options.host,
          port: options.port,
          // SNI carries names only; an IP address is still checked against the certificate
          ...(Net.isIP(options.host) === 0 ? { servername: options.host } : {}),
          ...(tls.ca === undefined ? {} : { ca: [...Tls.rootCertificates, tls.ca] })
        })
        socket.once("secureConnect", () => {
          socket.setNoDelay(true)
          resume(Effect.succeed(socket))
        })
        socket.on("error", (cause) => resume(Effect.fail(new Socket.SocketGenericError({ reason: "Open", cause }))))
      }),
      (socket) => Effect.sync(() => socket.destroySoon())
    ),
    { openTimeout }
  )
}

/** One link's moving parts, shared by its reader, writer, heartbeat and requests. */
interface Link {
  readonly address: string
  readonly fiberId: FiberId.FiberId
  readonly closed: Deferred.Deferred<ConnectionLost>
  readonly hello: Deferred.Deferred<Hello, LoginRejected>
  /** Requests waiting for the reply with their `id`. */
  readonly pending: Map<RequestId, Deferred.Deferred<Incoming, ConnectionLost>>
  readonly outgoing: Queue.Queue<Uint8Array>
  nextId: number
  /** Lines (or oversized frames) received so far: any of them shows the link alive. */
  received: number
  /** Why the server said BYE, when it did. */
  byeReason: string | undefined
  revoked: boolean
  isClosed: boolean
  /** A TLS failure a retry cannot fix (an untrusted certificate), once the dial has failed with one. */
  rejected: LoginRejected | undefined
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

/** Reads the socket in the scope; when it ends, the link ends with the reason a person can act on. */
const readSocket = (
  link: Link,
  socket: Socket.Socket,
  options: ConnectionOptions,
  opened: Deferred.Deferred<void>,
  onFrame: (frame: Incoming) => void
) => {
  const framer = new Framer(MAX_SERVER_FRAME_BYTES)
  const line = onLine(link, onFrame)
  const onEvent = (event: FrameEvent) => {
    link.received++
    // an oversized or non-UTF-8 line from the server is not ours to fix: skip it
    if (event._tag === "Line") line(event.text)
  }
  return socket.run((chunk) => framer.push(chunk, onEvent), {
    onOpen: Deferred.succeed(opened, undefined)
  }).pipe(
    Effect.onExit((exit) =>
      Effect.sync(() => {
        if (link.byeReason !== undefined) return terminate(link, `the server said goodbye (${link.byeReason})`)
        if (Exit.isSuccess(exit)) {
          // a TLS server drops a client that never starts the handshake
          const hint = link.received === 0 && options.tls === undefined
            ? " before its HELLO (a TLS port needs --tls)"
            : ""
          return terminate(link, `${link.address} closed the connection${hint}`)
        }
        const error = Cause.failureOption(exit.cause)
        if (Option.isSome(error)) link.rejected ??= tlsRejection(error.value, link.address)
        terminate(
          link,
          Option.isSome(error)
            ? describeDialError(error.value, link.address)
            : `the link to ${link.address} was interrupted`
        )
      })
    ),
    Effect.forkScoped
  )
}

/** Writes what is queued, in batches, in the scope. */
const writeQueued = (
  link: Link,
  write: (chunk: Uint8Array) => Effect.Effect<void, Socket.SocketError>
) =>
  Effect.gen(function*() {
    while (true) {
      const chunks = yield* Queue.takeBetween(link.outgoing, 1, 4096)
      const ok = yield* write(concat(chunks)).pipe(Effect.as(true), Effect.catchAll(() => Effect.succeed(false)))
      if (!ok) return terminate(link, `lost the connection to ${link.address} while writing`)
    }
  }).pipe(Effect.forkScoped)

const makeRequest = (link: Link) => (command: Outgoing): Effect.Effect<Incoming, ConnectionLost> =>
  Effect.suspend(() => {
    if (link.isClosed) return Effect.fail(new ConnectionLost({ reason: `not connected to ${link.address}` }))
    const id = link.nextId++
    const waiter = Deferred.unsafeMake<Incoming, ConnectionLost>(link.fiberId)
    link.pending.set(id, waiter)
    Queue.unsafeOffer(link.outgoing, encodeOutgoing(withId(command, id)))
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
          reason: `${link.address} sent no HELLO within ${Duration.format(helloTimeout)}: is it a Parley server` +
            (options.tls === undefined ? " (a TLS port needs --tls)?" : "?")
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
 * Dials and returns once TCP (and TLS) is up. The link lives as long as the scope; use
 * `closed` to learn when the server or the network ended it first.
 */
export const open = (
  options: ConnectionOptions,
  /** Called in arrival order with every frame that does not answer a `request` (events, ACKs of writes). */
  onFrame: (frame: Incoming) => void
) =>
  Effect.gen(function*() {
    const address = `${options.host}:${options.port}`
    // the dial itself happens in `socket.run` below; its errors arrive there
    const socket = yield* dial(options).pipe(
      Effect.mapError((e) => new ConnectionLost({ reason: describeDialError(e, address) }))
    )
    const fiberId = yield* Effect.fiberId
    const link: Link = {
      address,
      fiberId,
      closed: Deferred.unsafeMake<ConnectionLost>(fiberId),
      hello: Deferred.unsafeMake<Hello, LoginRejected>(fiberId),
      pending: new Map(),
      outgoing: yield* Queue.unbounded<Uint8Array>(),
      nextId: 1,
      received: 0,
      byeReason: undefined,
      revoked: false,
      isClosed: false,
      rejected: undefined
    }
    const opened = Deferred.unsafeMake<void>(fiberId)
    yield* readSocket(link, socket, options, opened, onFrame)
    // dial: succeed when the link is up, fail when the socket ends first
    yield* Effect.raceFirst(
      Deferred.await(opened),
      Effect.flatMap(Deferred.await(link.closed), (lost) => Effect.fail(link.rejected ?? lost))
    )
    yield* writeQueued(link, yield* socket.writer)
    const request = makeRequest(link)
    yield* heartbeat(link, request, options)

    return {
      address,
      hello: awaitHello(link, options),
      request,
      write: (command) => !link.isClosed && Queue.unsafeOffer(link.outgoing, encodeOutgoing(command)),
      closed: Deferred.await(link.closed),
      kill: (reason) => Effect.sync(() => terminate(link, reason)),
      goodbye: request(new Disconnect({ command: "DISCONNECT" }, true)).pipe(
        Effect.zipRight(Deferred.await(link.closed)),
        Effect.timeout("2 seconds"),
        Effect.ignore
      )
    } satisfies Connection
  })

const concat = (chunks: Chunk.Chunk<Uint8Array>): Uint8Array => {
  if (chunks.length === 1) return Chunk.unsafeHead(chunks)
  let size = 0
  for (const c of chunks) size += c.length
  const out = new Uint8Array(size)
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.length
  }
  return out
}
