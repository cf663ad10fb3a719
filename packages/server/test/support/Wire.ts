/**
 * A raw protocol-v1 peer for black-box tests: a TCP (or TLS) socket that writes bytes
 * and JSON lines as given and reads the server's lines back as parsed frames,
 * with no client library in between. The waits it shares with `WsWire` are in
 * `Peer.ts`: real time, bounded, and a missing frame fails with what did arrive.
 */
import { Data, Duration, Effect, type Scope } from "effect"
import * as Net from "node:net"
import * as Tls from "node:tls"
import { DEFAULT_WAIT, type Frame, parseFrame, Peer } from "./Peer.ts"

export type { Frame } from "./Peer.ts"

export class WireError extends Data.TaggedError("WireError")<{ readonly message: string }> {}

/** The password every test account uses unless a test says otherwise. */
export const PASSWORD = "correct horse battery staple"

export class Wire extends Peer<WireError> {
  private partial: Array<Buffer> = []
  private closedFlag = false

  private constructor(readonly socket: Net.Socket, label: string) {
    super(label)
    socket.on("data", (chunk: Buffer) => this.onData(chunk))
    socket.on("close", () => {
      this.closedFlag = true
      this.wake()
    })
    socket.on("error", () => {
      // 'close' follows
    })
  }

  /** Opens a connection and reads the HELLO the server sends on accept. */
  static connect(port: number, label = "wire", localAddress?: string): Effect.Effect<Wire, WireError, Scope.Scope> {
    // another 127.0.0.x is another address to the server's per-address limits
    return Wire.open(
      label,
      "connect",
      () => Net.connect({ host: "127.0.0.1", port, ...(localAddress === undefined ? {} : { localAddress }) })
    )
  }

  /**
   * Opens a TLS connection to 127.0.0.1 trusting only `ca` (PEM), with the
   * server's name checked against 127.0.0.1, and reads the HELLO.
   */
  static connectTls(
    port: number,
    ca: string | Buffer,
    label = "tls wire",
    localAddress?: string
  ): Effect.Effect<Wire, WireError, Scope.Scope> {
    return Wire.open(
      label,
      "secureConnect",
      () => Tls.connect({ host: "127.0.0.1", port, ca, ...(localAddress === undefined ? {} : { localAddress }) })
    )
  }

  private static open(label: string, ready: "connect" | "secureConnect", dial: () => Net.Socket) {
    return Effect.gen(function*() {
      const wire = yield* Effect.acquireRelease(
        Effect.async<Wire, WireError>((resume) => {
          const socket = dial()
          const onError = (error: Error) =>
            resume(Effect.fail(new WireError({ message: `${label}: ${error.message}` })))
          socket.once("error", onError)
          socket.once(ready, () => {
            socket.off("error", onError)
            socket.setNoDelay(true)
            resume(Effect.succeed(new Wire(socket, label)))
          })
        }),
        (wire) => Effect.sync(() => wire.socket.destroy())
      )
      wire.helloFrame = yield* wire.expect("HELLO")
      return wire
    })
  }

  /** The SHA-256 fingerprint of the certificate the server presented (TLS connections only). */
  get peerFingerprint(): string {
    return (this.socket as Tls.TLSSocket).getPeerCertificate().fingerprint256
  }

  protected error(message: string) {
    return new WireError({ message })
  }

  protected get ended() {
    return this.closedFlag ? "connection closed" : undefined
  }

  get isClosed(): boolean {
    return this.closedFlag
  }

  private onData(chunk: Buffer) {
    let start = 0
    let nl = chunk.indexOf(10, start)
    while (nl !== -1) {
      const piece = chunk.subarray(start, nl)
      const line = this.partial.length === 0 ? piece : Buffer.concat([...this.partial, piece])
      this.partial = []
      this.receive(parseFrame(line.toString("utf8"), "line"))
      start = nl + 1
      nl = chunk.indexOf(10, start)
    }
    if (start < chunk.length) this.partial.push(chunk.subarray(start))
    this.wake()
  }

  /** Writes bytes exactly as given. */
  write(data: string | Uint8Array): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      this.socket.write(data, () => resume(Effect.void))
    })
  }

  /** Writes bytes without waiting for them to leave (for floods the server is expected not to read). */
  writeNoWait(data: string | Uint8Array): boolean {
    return this.socket.write(data)
  }

  /** Sends one frame as a JSON line. */
  send(frame: Readonly<Record<string, unknown>>): Effect.Effect<void> {
    return this.write(JSON.stringify(frame) + "\n")
  }

  /** Stops reading from the socket (the kernel buffers fill, then the server's). */
  pause(): void {
    this.socket.pause()
  }

  resume(): void {
    this.socket.resume()
  }

  /** The ERROR reply to a request, which must carry `code`, skipping (and keeping) events. */
  replyError(code: string, wait?: Duration.DurationInput): Effect.Effect<Frame, WireError> {
    return Effect.flatMap(
      this.pick(
        (f) => f.type === "ERROR" || f.type === "BYE" || f.type === "OK" || f.type === "ACK" || f.type === "HISTORY",
        wait
      ),
      (frame) => this.expected(frame, frame.type === "ERROR" && frame.code === code, `ERROR ${code}`)
    )
  }

  /** Sends a frame and returns the next one, which must be of `type`. */
  request(
    frame: Readonly<Record<string, unknown>>,
    type: string,
    wait?: Duration.DurationInput
  ): Effect.Effect<Frame, WireError> {
    return Effect.zipRight(this.send(frame), this.expect(type, wait))
  }

  /** The next `count` frames, each of which must be of `type`. */
  take(count: number, type: string, wait?: Duration.DurationInput): Effect.Effect<Array<Frame>, WireError> {
    return Effect.gen(this, function*() {
      const frames: Array<Frame> = []
      for (let i = 0; i < count; i++) frames.push(yield* this.expect(type, wait))
      return frames
    })
  }

  /** Waits until the server closes the connection; any frame arriving first fails. */
  expectClosed(wait: Duration.DurationInput = DEFAULT_WAIT): Effect.Effect<void, WireError> {
    return this.waitUntil(
      () => {
        const frame = this.pending.shift()
        if (frame !== undefined) {
          return Effect.fail(
            new WireError({
              message: `${this.label}: expected the connection to close, got ${JSON.stringify(frame).slice(0, 500)}`
            })
          )
        }
        return this.closedFlag ? Effect.void : undefined
      },
      wait,
      () => `still open after ${Duration.format(wait)}`
    )
  }

  /** Waits until the connection is closed, whatever frames come first (they stay in `received`). */
  closed(wait: Duration.DurationInput = DEFAULT_WAIT): Effect.Effect<void, WireError> {
    return this.waitUntil(
      () => this.closedFlag ? Effect.void : undefined,
      wait,
      () => `still open after ${Duration.format(wait)}`
    )
  }

  /** Frames already received and not yet consumed. */
  drainPending(): Array<Frame> {
    const frames = this.pending
    this.pending = []
    return frames
  }
}

/** Registers `username` on a fresh connection, then logs in on it; returns the connection and CONNECTED. */
export const signUp = (port: number, username: string, password = PASSWORD) =>
  Effect.gen(function*() {
    const wire = yield* Wire.connect(port, username)
    const registered = yield* wire.request({ command: "REGISTER", username, password }, "REGISTERED")
    if (registered.username !== username) {
      return yield* new WireError({ message: `REGISTERED ${JSON.stringify(registered)} for ${username}` })
    }
    const connected = yield* wire.request({ command: "CONNECT", username, password }, "CONNECTED")
    return { wire, connected } as const
  })

/** Registers `username` on a throwaway connection. */
export const register = (port: number, username: string, password = PASSWORD) =>
  Effect.scoped(
    Effect.gen(function*() {
      const wire = yield* Wire.connect(port, `register ${username}`)
      yield* wire.request({ command: "REGISTER", username, password }, "REGISTERED")
    })
  )

/** Logs in an existing account on a fresh connection (with password unless `login` says otherwise). */
export const logIn = (
  port: number,
  username: string,
  login: Readonly<Record<string, unknown>> = { password: PASSWORD }
) =>
  Effect.gen(function*() {
    const wire = yield* Wire.connect(port, username)
    const connected = yield* wire.request({ command: "CONNECT", username, ...login }, "CONNECTED")
    return { wire, connected } as const
  })

/**
 * Sends a MSG and returns its ACK; events arriving meanwhile stay queued, but
 * the sending connection must never get its own message as a MESSAGE.
 */
export const say = (wire: Wire, text: string, fields: Readonly<Record<string, unknown>> = {}) =>
  Effect.gen(function*() {
    const from = wire.received.length
    yield* wire.send({ command: "MSG", text, ...fields })
    const ack = yield* wire.reply("ACK")
    const echoed = wire.received.slice(from).find((f) => f.type === "MESSAGE" && f.message_id === ack.message_id)
    if (echoed !== undefined) {
      return yield* new WireError({
        message: `${wire.label}: the sending connection got its own message: ${JSON.stringify(echoed)}`
      })
    }
    return ack
  })

/** ISO 8601 UTC with milliseconds, as the contract writes timestamps. */
export const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

/** Sends many MSGs in one write (pipelined) and returns their ACKs, in order. */
export const sayAll = (wire: Wire, texts: ReadonlyArray<string>, fields: Readonly<Record<string, unknown>> = {}) =>
  Effect.gen(function*() {
    yield* wire.write(texts.map((text) => JSON.stringify({ command: "MSG", text, ...fields }) + "\n").join(""))
    const acks: Array<Frame> = []
    for (let i = 0; i < texts.length; i++) acks.push(yield* wire.reply("ACK"))
    return acks
  })

/** The message_ids of a HISTORY reply. */
export const ids = (history: Frame): Array<number> =>
  (history.messages as Array<Frame>).map((m) => m.message_id as number)

/** Every public message, paged forward with HISTORY, oldest first. */
export const wholeTimeline = (wire: Wire) =>
  Effect.gen(function*() {
    const all: Array<Frame> = []
    let after = 0
    while (true) {
      const page = yield* wire.ask({ command: "HISTORY", after, limit: 100 }, "HISTORY")
      const messages = page.messages as Array<Frame>
      all.push(...messages)
      if (page.has_more !== true || messages.length === 0) return all
      after = messages[messages.length - 1]!.message_id as number
    }
  })
