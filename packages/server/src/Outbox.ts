/**
 * A connection's bounded outbound queue and its single writer. Frames are
 * queued synchronously (a broadcast costs one push per recipient); once per
 * turn of the event loop the writer hands everything queued for a socket
 * to it as one buffer, and while the kernel is full it waits for `drain`
 * instead of writing more. A reader that lets more than `limitBytes` pile
 * up is a slow consumer: the queue reports overflow and the connection is
 * dropped, so nobody else ever waits for it.
 *
 * The writer is a plain callback, not a fiber per connection: an idle
 * connection must cost a few KiB, and 10,000 parked fibers would not.
 */
import type * as Net from "node:net"

/** Outboxes with frames queued this turn; all flushed by one setImmediate. */
let dirty: Array<Outbox> = []
let flushScheduled = false

const flushAll = () => {
  flushScheduled = false
  const batch = dirty
  dirty = []
  for (const outbox of batch) outbox.flush()
}

export class Outbox {
  private chunks: Array<Uint8Array> = []
  private bytes = 0
  private queued = false
  private draining = false
  private closed = false
  /** Set once the queue has overflowed. */
  overflowed = false

  constructor(
    private readonly socket: Net.Socket,
    private readonly limitBytes: number,
    private readonly onOverflow: () => void
  ) {}

  /** Queues one encoded frame; false when the connection is (now) over its limit or closed. */
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
    this.schedule()
    return true
  }

  /** Bytes queued and not yet handed to the socket. */
  get queuedBytes(): number {
    return this.bytes
  }

  private schedule(): void {
    if (this.queued || this.draining) return
    this.queued = true
    dirty.push(this)
    if (!flushScheduled) {
      flushScheduled = true
      setImmediate(flushAll)
    }
  }

  private take(): Uint8Array {
    const chunks = this.chunks
    this.chunks = []
    this.bytes = 0
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
  }

  private readonly onDrain = () => {
    this.draining = false
    if (this.chunks.length > 0) this.schedule()
  }

  /** Writes everything queued as one buffer (called once per turn). */
  flush(): void {
    this.queued = false
    if (this.chunks.length === 0 || this.draining) return
    const socket = this.socket
    if (socket.destroyed) {
      this.chunks = []
      this.bytes = 0
      return
    }
    if (!socket.write(this.take())) {
      this.draining = true
      socket.once("drain", this.onDrain)
    }
  }

  /** Hands everything queued to the socket now and accepts nothing more. */
  close(): void {
    this.closed = true
    if (this.chunks.length > 0 && !this.socket.destroyed) this.socket.write(this.take())
  }

  /** Writes directly, bypassing the queue (a last BYE to a peer being dropped). */
  writeNow(frame: Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(frame)
  }
}
