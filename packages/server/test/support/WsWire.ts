/**
 * A raw protocol-v1 peer over WebSocket, the browser's way in: a `ws` client
 * that sends text messages exactly as given (whole, fragmented or binary) and
 * reads each message the server sends as one frame, with no client library in
 * between. The same waiting rules as `Wire`: real time, bounded, and a
 * missing frame fails with what did arrive.
 */
import { Data, Deferred, Duration, Effect, Exit, type Scope } from "effect"
import type * as Http from "node:http"
import WebSocket from "ws"
import type { Frame } from "./Wire.ts"

export class WsWireError extends Data.TaggedError("WsWireError")<{ readonly message: string }> {}

const DEFAULT_WAIT = Duration.seconds(10)

const show = (frames: ReadonlyArray<Frame>) => frames.map((f) => JSON.stringify(f).slice(0, 300)).join("\n  ")

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

export class WsWire {
  readonly received: Array<Frame> = []
  private pending: Array<Frame> = []
  private readonly waiters = new Set<() => void>()
  private closedWith: Closed | undefined
  private helloFrame: Frame | undefined
  /** Each message's raw text, in order (to check that no message holds a newline). */
  readonly texts: Array<string> = []

  private constructor(readonly ws: WebSocket, readonly label: string) {
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      const text = data.toString("utf8")
      this.texts.push(text)
      let frame: Frame
      try {
        const parsed: unknown = JSON.parse(text)
        frame = typeof parsed === "object" && parsed !== null && typeof (parsed as Frame).type === "string"
          ? parsed as Frame
          : { type: "<not a frame>", text }
      } catch {
        frame = { type: "<not JSON>", text }
      }
      if (isBinary) frame = { type: "<binary>", text }
      this.received.push(frame)
      this.pending.push(frame)
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

  get hello(): Frame {
    return this.helloFrame!
  }

  /** How the connection ended, once it has. */
  get closed(): Closed | undefined {
    return this.closedWith
  }

  private wake() {
    const waiters = [...this.waiters]
    this.waiters.clear()
    for (const w of waiters) w()
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

  /** Frames up to and including the first of `type`, and the frames before it. */
  until(type: string, wait?: Duration.DurationInput) {
    return Effect.gen(this, function*() {
      const before: Array<Frame> = []
      while (true) {
        const frame = yield* this.next(wait)
        if (frame.type === type) return { frame, before } as const
        before.push(frame)
      }
    })
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

  /** The first frame, received or yet to come, that satisfies `pick`; others stay queued. */
  pick(
    pick: (frame: Frame) => boolean,
    wait: Duration.DurationInput = DEFAULT_WAIT
  ): Effect.Effect<Frame, WsWireError> {
    return Effect.async<Frame, WsWireError>((resume) => {
      const attempt = () => {
        const at = this.pending.findIndex(pick)
        if (at !== -1) return resume(Effect.succeed(this.pending.splice(at, 1)[0]!))
        if (this.closedWith !== undefined) {
          return resume(
            Effect.fail(
              new WsWireError({
                message: `${this.label}: closed (${this.closedWith.code}); received:\n  ${
                  show(this.received.slice(-10))
                }`
              })
            )
          )
        }
        this.waiters.add(attempt)
      }
      attempt()
      return Effect.sync(() => void this.waiters.delete(attempt))
    }).pipe(
      Effect.timeoutFail({
        duration: wait,
        onTimeout: () =>
          new WsWireError({
            message: `${this.label}: nothing expected within ${Duration.format(wait)}; last received:\n  ${
              show(this.received.slice(-10))
            }`
          })
      })
    )
  }

  next(wait?: Duration.DurationInput) {
    return this.pick(() => true, wait)
  }

  /** The next frame, which must be of `type`. */
  expect(type: string, wait?: Duration.DurationInput): Effect.Effect<Frame, WsWireError> {
    return Effect.flatMap(this.next(wait), (frame) =>
      frame.type === type
        ? Effect.succeed(frame)
        : Effect.fail(new WsWireError({ message: `${this.label}: expected ${type}, got ${JSON.stringify(frame)}` })))
  }

  /** The next frame, which must be an ERROR with `code`. */
  expectError(code: string, wait?: Duration.DurationInput): Effect.Effect<Frame, WsWireError> {
    return Effect.flatMap(this.next(wait), (frame) =>
      frame.type === "ERROR" && frame.code === code
        ? Effect.succeed(frame)
        : Effect.fail(
          new WsWireError({ message: `${this.label}: expected ERROR ${code}, got ${JSON.stringify(frame)}` })
        ))
  }

  /** The reply of `type` to a request, skipping (and keeping) events; an ERROR or BYE instead fails. */
  reply(type: string, wait?: Duration.DurationInput): Effect.Effect<Frame, WsWireError> {
    return Effect.flatMap(
      this.pick((f) => f.type === type || f.type === "ERROR" || f.type === "BYE", wait),
      (frame) =>
        frame.type === type
          ? Effect.succeed(frame)
          : Effect.fail(new WsWireError({ message: `${this.label}: expected ${type}, got ${JSON.stringify(frame)}` }))
    )
  }

  /** Sends a frame and returns its reply of `type`. */
  ask(frame: Readonly<Record<string, unknown>>, type: string, wait?: Duration.DurationInput) {
    return Effect.zipRight(this.send(frame), this.reply(type, wait))
  }

  /** PING and its PONG: every reply to an earlier request has arrived; the frames before it are returned. */
  sync(wait?: Duration.DurationInput): Effect.Effect<Array<Frame>, WsWireError> {
    const id = `sync-${Math.random().toString(36).slice(2)}`
    return Effect.gen(this, function*() {
      yield* this.send({ command: "PING", id })
      const before: Array<Frame> = []
      while (true) {
        const frame = yield* this.next(wait)
        if (frame.type === "PONG" && frame.id === id) return before
        before.push(frame)
      }
    })
  }

  /** Waits until the connection is closed; returns how. */
  waitClosed(wait: Duration.DurationInput = DEFAULT_WAIT): Effect.Effect<Closed, WsWireError> {
    return Effect.gen(this, function*() {
      const done = yield* Deferred.make<Closed>()
      const check = () => {
        if (this.closedWith !== undefined) Deferred.unsafeDone(done, Exit.succeed(this.closedWith))
        else this.waiters.add(check)
      }
      check()
      return yield* Deferred.await(done).pipe(
        Effect.timeoutFail({
          duration: wait,
          onTimeout: () => new WsWireError({ message: `${this.label}: still open after ${Duration.format(wait)}` })
        }),
        Effect.ensuring(Effect.sync(() => void this.waiters.delete(check)))
      )
    })
  }
}
