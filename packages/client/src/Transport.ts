/**
 * The seam between the client core and the network: a `Transport` opens a link that carries
 * protocol frames (each the JSON of one frame, without its newline) both ways. The core
 * (`Connection`, `ChatClient` and everything they use) speaks only this interface and imports no
 * `node:*` module, so it runs unchanged in Node and in a browser. The implementations:
 * `TcpTransport` (TCP or TLS through `node:net`/`node:tls`, lines found by the protocol's byte
 * framer) and `WebSocketTransport` (a `WebSocket`, one text message per frame).
 */
import { Data, type Duration, type Effect, type Scope } from "effect"
import type { LoginRejected } from "./ClientError.ts"

/**
 * A link could not be opened, or broke, said in one line a person can act on. `rejected` marks a
 * failure a retry cannot fix (an untrusted TLS certificate): the client stops instead of retrying.
 */
export class TransportError extends Data.TaggedError("TransportError")<{
  readonly reason: string
  readonly rejected?: LoginRejected | undefined
}> {
  override get message(): string {
    return this.reason
  }
}

/** What an open link does with what arrives, called synchronously in arrival order. */
export interface WireHandlers {
  /** One complete frame's text (without its line terminator), not yet decoded. */
  readonly onFrame: (text: string) => void
  /** A frame that was skipped (too large, not UTF-8, a binary message): the link is alive, though. */
  readonly onSkipped: () => void
}

/** An open link. */
export interface Wire {
  /** Sends frames, in order, each the JSON of one frame without a newline. */
  readonly send: (frames: ReadonlyArray<string>) => Effect.Effect<void, TransportError>
  /** Waits until the link ends: succeeds when the peer closed it in order, fails when it broke. */
  readonly ended: Effect.Effect<void, TransportError>
}

/** How long opening may take, from `ConnectionOptions`. */
export interface OpenOptions {
  readonly connectTimeout: Duration.Duration
}

/** A way to reach one server. */
export interface Transport {
  /** Where it dials, for messages: `host:port` or a URL. */
  readonly address: string
  /**
   * Opens a link in the scope (closing the scope closes it) and succeeds once it is up: TCP
   * connected, TLS handshaken, the WebSocket open. Frames arriving from then on go to `handlers`.
   */
  readonly open: (options: OpenOptions, handlers: WireHandlers) => Effect.Effect<Wire, TransportError, Scope.Scope>
  /**
   * Appended when the server closes or stays silent before its HELLO (a hint such as "a TLS port
   * needs --tls"); empty when the transport has nothing to add.
   */
  readonly silenceHint: string
}
