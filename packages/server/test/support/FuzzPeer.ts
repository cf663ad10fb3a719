/**
 * A raw TCP peer for the wire fuzz test: writes many lines at once and
 * counts what comes back. Unlike `Wire` it keeps no queue to pick from: the
 * replies (every frame but HELLO and the unrequested events) go into one
 * array in arrival order, to be walked beside the lines sent. Waits end on
 * the event (enough replies, the close); a wait that sees no new frame for
 * `stallMs` fails, naming what arrived last, so a hang fails the test.
 */
import { Data, Effect, type Scope } from "effect"
import * as Net from "node:net"
import { EVENTS, type Reply } from "./FuzzFrames.ts"

export class FuzzPeerError extends Data.TaggedError("FuzzPeerError")<{ readonly message: string }> {}

export class FuzzPeer {
  readonly replies: Array<Reply> = []
  events = 0
  closed = false
  private hello = false
  private partial: Array<Buffer> = []
  private wakeUp: (() => void) | undefined = undefined

  private constructor(readonly socket: Net.Socket, readonly label: string) {
    socket.on("data", (chunk: Buffer) => this.onData(chunk))
    socket.on("close", () => {
      this.closed = true
      this.wake()
    })
    // writes after the server closed (past a DISCONNECT) fail with EPIPE; 'close' follows
    socket.on("error", () => {})
  }

  /** Connects and waits for HELLO. */
  static connect(
    port: number,
    label: string,
    localAddress?: string
  ): Effect.Effect<FuzzPeer, FuzzPeerError, Scope.Scope> {
    return Effect.acquireRelease(
      Effect.async<FuzzPeer, FuzzPeerError>((resume) => {
        const socket = Net.connect({ host: "127.0.0.1", port, ...(localAddress === undefined ? {} : { localAddress }) })
        const failed = (error: Error) =>
          resume(Effect.fail(new FuzzPeerError({ message: `${label}: ${error.message}` })))
        socket.once("error", failed)
        socket.once("connect", () => {
          socket.off("error", failed)
          const peer = new FuzzPeer(socket, label)
          resume(Effect.map(peer.waitFor(() => peer.hello, 10_000), () => peer))
        })
      }),
      (peer) => Effect.sync(() => peer.socket.destroy())
    )
  }

  private wake(): void {
    const w = this.wakeUp
    this.wakeUp = undefined
    w?.()
  }

  private onData(chunk: Buffer): void {
    let start = 0
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, nl)
      const line = this.partial.length === 0 ? piece : Buffer.concat([...this.partial, piece])
      this.partial = []
      this.onLine(line.toString("utf8"))
      start = nl + 1
    }
    if (start < chunk.length) this.partial.push(chunk.subarray(start))
    this.wake()
  }

  private onLine(line: string): void {
    let frame: Reply
    try {
      const parsed: unknown = JSON.parse(line)
      frame = typeof parsed === "object" && parsed !== null && typeof (parsed as Reply).type === "string"
        ? parsed as Reply
        : { type: "<not a frame>", line: line.slice(0, 300) }
    } catch {
      frame = { type: "<not JSON>", line: line.slice(0, 300) }
    }
    if (!this.hello && frame.type === "HELLO") this.hello = true
    else if (EVENTS.has(frame.type)) this.events++
    else this.replies.push(frame)
  }

  /** Writes bytes; resolves once they are handed to the kernel (or the socket is gone). */
  write(data: Uint8Array): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      if (this.socket.destroyed) return resume(Effect.void)
      this.socket.write(data, () => resume(Effect.void))
    })
  }

  /** Waits until `done()` holds or the connection closes; fails when nothing arrives for `stallMs`. */
  waitFor(done: () => boolean, stallMs = 20_000): Effect.Effect<void, FuzzPeerError> {
    return Effect.async<void, FuzzPeerError>((resume) => {
      let timer: NodeJS.Timeout | undefined
      const check = () => {
        clearTimeout(timer)
        if (done() || this.closed) return resume(Effect.void)
        timer = setTimeout(() => {
          this.wakeUp = undefined
          const last = JSON.stringify(this.replies.at(-1))?.slice(0, 300)
          resume(
            Effect.fail(
              new FuzzPeerError({
                message: `${this.label}: nothing for ${stallMs} ms after ${this.replies.length} replies; last: ${last}`
              })
            )
          )
        }, stallMs)
        this.wakeUp = check
      }
      check()
      return Effect.sync(() => {
        clearTimeout(timer)
        this.wakeUp = undefined
      })
    })
  }

  /** Waits for at least `n` replies (or the close). */
  awaitReplies(n: number): Effect.Effect<void, FuzzPeerError> {
    return this.waitFor(() => this.replies.length >= n)
  }

  /** Waits for the server to close the connection. */
  awaitClose(): Effect.Effect<void, FuzzPeerError> {
    return this.waitFor(() => this.closed)
  }
}
