/**
 * A connection's bounded outbound queue and its single writer. Frames are
 * queued synchronously (a broadcast costs a push per recipient, not a
 * fiber); the writer fiber takes everything queued and writes it as one
 * buffer, waiting for `drain` when the kernel is full. A reader that lets
 * more than `limitBytes` pile up is a slow consumer: the queue reports
 * overflow and the connection is dropped, so nobody else ever waits for it.
 */
import { Effect } from "effect"
import type * as Net from "node:net"

export class Outbox {
  private chunks: Array<Uint8Array> = []
  private bytes = 0
  private wake: (() => void) | undefined
  private closed = false
  /** Set once the queue has overflowed. */
  overflowed = false

  constructor(
    private readonly socket: Net.Socket,
    private readonly limitBytes: number,
    private readonly onOverflow: () => void
  ) {}

  /** Queues one encoded frame; false when the connection is (now) over its limit. */
  offer(frame: Uint8Array): boolean {
    if (this.closed || this.overflowed) return false
    this.bytes += frame.length
    if (this.bytes + this.socket.writableLength > this.limitBytes) {
      this.overflowed = true
      this.chunks = []
      this.bytes = 0
      this.onOverflow()
      return false
    }
    this.chunks.push(frame)
    if (this.wake !== undefined) {
      const w = this.wake
      this.wake = undefined
      w()
    }
    return true
  }

  /** Bytes queued and not yet handed to the socket. */
  get queuedBytes(): number {
    return this.bytes
  }

  private take(): Uint8Array {
    const chunks = this.chunks
    this.chunks = []
    this.bytes = 0
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
  }

  private readonly awaitFrames = Effect.async<boolean>((resume) => {
    if (this.chunks.length > 0) return resume(Effect.succeed(true))
    if (this.closed) return resume(Effect.succeed(false))
    this.wake = () => resume(Effect.succeed(!this.closed || this.chunks.length > 0))
    return Effect.sync(() => {
      this.wake = undefined
    })
  })

  private write(data: Uint8Array) {
    return Effect.async<void>((resume) => {
      const socket = this.socket
      if (socket.destroyed) return resume(Effect.void)
      if (socket.write(data)) return resume(Effect.void)
      const done = () => {
        socket.off("drain", done)
        socket.off("close", done)
        resume(Effect.void)
      }
      socket.on("drain", done)
      socket.on("close", done)
      return Effect.sync(() => {
        socket.off("drain", done)
        socket.off("close", done)
      })
    })
  }

  /** The writer: runs until `close`, then flushes what is left. */
  readonly run: Effect.Effect<void> = Effect.gen(this, function*() {
    while (yield* this.awaitFrames) {
      yield* this.write(this.take())
    }
  })

  /** Stops the writer once the queue is empty. */
  close(): void {
    this.closed = true
    if (this.wake !== undefined) {
      const w = this.wake
      this.wake = undefined
      w()
    }
  }

  /** Hands everything queued to the socket now (the last frames of a closing connection). */
  flushNow(): void {
    this.closed = true
    if (this.chunks.length > 0 && !this.socket.destroyed) this.socket.write(this.take())
  }

  /** Writes directly, bypassing the queue (a last BYE to a peer being dropped). */
  writeNow(frame: Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(frame)
  }
}
