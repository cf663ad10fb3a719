/**
 * The Node transport: TCP, or TLS once its handshake is done (the certificate checked against
 * `host`), with the server's lines found by the protocol's byte-level framer. Dial errors become
 * one line a person can act on ("connection refused by ...: is the server running?"), and a TLS
 * failure a retry cannot fix (an untrusted certificate) is marked so the client stops.
 */
import * as NodeSocket from "@effect/platform-node/NodeSocket"
import * as Socket from "@effect/platform/Socket"
import { type FrameEvent, Framer, MAX_SERVER_FRAME_BYTES } from "@parley/protocol"
import { Cause, Deferred, type Duration, Effect, Exit, Option } from "effect"
import * as Net from "node:net"
import * as Tls from "node:tls"
import { LoginRejected } from "./ClientError.ts"
import { type Transport, TransportError, type Wire, type WireHandlers } from "./Transport.ts"

/** TLS for a link: the server's certificate must be valid for `host` and trusted. */
export interface TlsOptions {
  /** A CA or self-signed certificate (PEM) to trust besides Node's built-in list of public CAs. */
  readonly ca?: string | Buffer | undefined
}

/** Where to dial. */
export interface TcpOptions {
  readonly host: string
  readonly port: number
  /** Speak TLS (default: plain TCP). */
  readonly tls?: TlsOptions | undefined
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

/** A TCP socket, or a TLS one once its handshake is done; the dial itself happens in `run`. */
const dial = (
  options: TcpOptions,
  openTimeout: Duration.Duration
): Effect.Effect<Socket.Socket, Socket.SocketError> => {
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

const utf8 = new TextEncoder()

/** Frames as lines, in one chunk: a batch is one write. */
const encodeLines = (frames: ReadonlyArray<string>): Uint8Array =>
  utf8.encode(frames.length === 1 ? frames[0] + "\n" : frames.join("\n") + "\n")

/** Why the socket ended, as the client's error. */
const failure = (error: Socket.SocketError, address: string) =>
  new TransportError({ reason: describeDialError(error, address), rejected: tlsRejection(error, address) })

/** A transport that dials `host:port` over TCP (or TLS). */
export const make = (options: TcpOptions): Transport => {
  const address = `${options.host}:${options.port}`
  return {
    address,
    // a TLS server drops (or never greets) a client that never starts the handshake
    silenceHint: options.tls === undefined ? " (a TLS port needs --tls)" : "",
    open: (open, handlers: WireHandlers) =>
      Effect.gen(function*() {
        const socket = yield* dial(options, open.connectTimeout).pipe(Effect.mapError((e) => failure(e, address)))
        const opened = yield* Deferred.make<void>()
        const ended = yield* Deferred.make<void, TransportError>()
        const framer = new Framer(MAX_SERVER_FRAME_BYTES)
        const onEvent = (event: FrameEvent) => {
          // an oversized or non-UTF-8 line from the server is not ours to fix: skip it
          if (event._tag === "Line") handlers.onFrame(event.text)
          else handlers.onSkipped()
        }
        yield* socket.run((chunk) => framer.push(chunk, onEvent), { onOpen: Deferred.succeed(opened, undefined) }).pipe(
          Effect.onExit((exit) => {
            if (Exit.isSuccess(exit)) return Deferred.done(ended, Exit.void)
            const error = Cause.failureOption(exit.cause)
            return Deferred.fail(
              ended,
              Option.isSome(error)
                ? failure(error.value, address)
                : new TransportError({ reason: `the link to ${address} was interrupted` })
            )
          }),
          Effect.forkScoped
        )
        // succeed when the link is up, fail when the socket ends first
        yield* Effect.raceFirst(
          Deferred.await(opened),
          Effect.zipRight(
            Deferred.await(ended),
            Effect.fail(new TransportError({ reason: `${address} closed the connection` }))
          )
        )
        const write = yield* socket.writer
        return {
          send: (frames) =>
            write(encodeLines(frames)).pipe(
              Effect.mapError(() => new TransportError({ reason: `lost the connection to ${address} while writing` }))
            ),
          ended: Deferred.await(ended)
        } satisfies Wire
      })
  }
}
