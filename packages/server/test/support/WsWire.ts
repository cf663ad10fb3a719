/**
 * A raw protocol-v1 peer over WebSocket, the browser's way in: a `ws` client
 * that sends text messages exactly as given (whole, fragmented or binary) and
 * reads each message the server sends as one frame, with no client library in
 * between. The waits it shares with `Wire` are in `Peer.ts`: real time,
 * bounded, and a missing frame fails with what did arrive.
 */
import { Data, Duration, Effect, type Scope } from "effect"
import type * as Http from "node:http"
import WebSocket from "ws"
import { DEFAULT_WAIT, parseFrame, Peer } from "./Peer.ts"

export class WsWireError extends Data.TaggedError("WsWireError")<{ readonly message: string }> {}

export interface WsOptions {
  /** The `Origin` header, as a browser page would send it (none by default, as a non-browser client). */
  readonly origin?: string
  readonly headers?: Readonly<Record<string, string>>
  /** PEM certificate to trust for wss:// (only it). */
  readonly ca?: string
}

/** How the server ended the connection: the close code and whether it came as a close frame. */
export interface Closed {
  readonly code: number
  readonly reason: string
}

export class WsWire extends Peer<WsWireError> {
  private closedWith: Closed | undefined
  /** Each message's raw text, in order (to check that no message holds a newline). */
  readonly texts: Array<string> = []

  private constructor(readonly ws: WebSocket, label: string) {
    super(label)
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      const text = data.toString("utf8")
      this.texts.push(text)
      this.receive(isBinary ? { type: "<binary>", text } : parseFrame(text, "text"))
      this.wake()
    })
    ws.on("close", (code: number, reason: Buffer) => {
      this.closedWith = { code, reason: reason.toString("utf8") }
      this.wake()
    })
    ws.on("error", () => {
      // 'close' follows
    })
  }

  /** Opens `url`; fails with the HTTP status when the server refuses the upgrade. */
  static open(url: string, label = "ws", options: WsOptions = {}): Effect.Effect<WsWire, WsWireError, Scope.Scope> {
    return Effect.acquireRelease(
      Effect.async<WsWire, WsWireError>((resume) => {
        const ws = new WebSocket(url, {
          perMessageDeflate: false,
          ...(options.origin === undefined ? {} : { origin: options.origin }),
          ...(options.headers === undefined ? {} : { headers: options.headers }),
          ...(options.ca === undefined ? {} : { ca: options.ca })
        })
        const wire = new WsWire(ws, label)
        ws.once("open", () => resume(Effect.succeed(wire)))
        ws.once("unexpected-response", (_req, res: Http.IncomingMessage) => {
          resume(Effect.fail(new WsWireError({ message: `${label}: HTTP ${res.statusCode}` })))
          ws.terminate()
        })
        ws.once("error", (error) => resume(Effect.fail(new WsWireError({ message: `${label}: ${error.message}` }))))
        return Effect.sync(() => ws.terminate())
      }).pipe(
        Effect.timeoutFail({
          duration: DEFAULT_WAIT,
          onTimeout: () => new WsWireError({ message: `${label}: no upgrade within 10 s` })
        })
      ),
      (wire) => Effect.sync(() => wire.ws.terminate())
    )
  }

  /** Opens `url` and reads the HELLO the server greets every connection with. */
  static connect(url: string, label = "ws", options: WsOptions = {}): Effect.Effect<WsWire, WsWireError, Scope.Scope> {
    return Effect.gen(function*() {
      const wire = yield* WsWire.open(url, label, options)
      wire.helloFrame = yield* wire.expect("HELLO")
      return wire
    })
  }

  protected error(message: string) {
    return new WsWireError({ message })
  }

  protected get ended() {
    return this.closedWith === undefined ? undefined : `closed (${this.closedWith.code})`
  }

  /** How the connection ended, once it has. */
  get closed(): Closed | undefined {
    return this.closedWith
  }

  /** Sends one message exactly as given: text, or a Buffer as a binary message; `fin: false` starts a fragmented one. */
  sendRaw(data: string | Buffer, options: { readonly binary?: boolean; readonly fin?: boolean } = {}) {
    return Effect.async<void, WsWireError>((resume) => {
      this.ws.send(data, { binary: options.binary ?? false, fin: options.fin ?? true }, (error) => {
        resume(error ? Effect.fail(new WsWireError({ message: `${this.label}: ${error.message}` })) : Effect.void)
      })
    })
  }

  /** Stops reading from the socket (the kernel's buffers fill, then the server's). */
  pause(): void {
    this.ws.pause()
  }

  resume(): void {
    this.ws.resume()
  }

  /** Sends one frame as one text message (the JSON, no newline). */
  send(frame: Readonly<Record<string, unknown>>) {
    return this.sendRaw(JSON.stringify(frame))
  }

  /** Closes with a close frame (code 1000) and waits until the connection is closed. */
  close(): Effect.Effect<Closed, WsWireError> {
    this.ws.close(1000)
    return this.waitClosed()
  }

  /** Waits until the connection is closed; returns how. */
  waitClosed(wait: Duration.DurationInput = DEFAULT_WAIT): Effect.Effect<Closed, WsWireError> {
    return this.waitUntil(
      () => this.closedWith === undefined ? undefined : Effect.succeed(this.closedWith),
      wait,
      () => `still open after ${Duration.format(wait)}`
    )
  }
}
