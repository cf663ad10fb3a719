/**
 * A connection's bounded outbound queue and its single writer. Frames are
 * queued synchronously (a broadcast costs one push per recipient); once per
 * turn of the event loop the writer hands everything queued for a socket
 * to it as one buffer, and while the kernel is full it waits for `drain`
 * instead of writing more. A reader that lets more than `limitBytes` pile
 * up (for longer than a grace period, or far past it) is a slow consumer:
 * the queue reports overflow and the connection is dropped, so nobody else
 * ever waits for it.
 *
 * The writer is a plain callback, not a fiber per connection: an idle
 * connection must cost a few KiB, and 10,000 parked fibers would not.
 */
import { type Clock, Effect } from "effect"
import type { Transport } from "./Transport.ts"

const outboxKey = Symbol("@parley/server/Outbox")
type SocketOf = Transport & { [outboxKey]?: Outbox }
function onDrain(this: SocketOf): void {
  this[outboxKey]?.drained()
}

/**
 * One server's outboxes with frames queued this turn, all flushed by one
 * setImmediate. Each server owns one (two servers in a process never flush
 * each other's connections).
 */
export class OutboxFlusher {
  private dirty: Array<Outbox> = []
  private scheduled = false

  private readonly flushAll = (): void => {
    this.scheduled = false
    const batch = this.dirty
    this.dirty = []
    for (const outbox of batch) outbox.flush()
  }

  /** Flushes `outbox` with the others on the next turn. */
  add(outbox: Outbox): void {
    this.dirty.push(outbox)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.flushAll)
    }
  }

  /**
   * Writes what is queued now rather than on the next turn: after a group
   * commit, so ACKs and MESSAGEs do not wait a whole event-loop iteration.
   */
  flushQueued(): void {
    if (this.dirty.length > 0) this.flushAll()
  }
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
    private readonly socket: Transport,
    private readonly flusher: OutboxFlusher,
    private readonly clock: Clock.Clock,
    private readonly limitBytes: number,
    private readonly onOverflow: () => void,
    private readonly hardLimitBytes = limitBytes * 8,
    private readonly graceMs = 2000
  ) {
    this.frame = socket.frame
  }

  /** The transport's framing of each queued line (WebSocket), or none (TCP). */
  private readonly frame: ((line: Uint8Array) => Uint8Array) | undefined

  /**
   * Queues one encoded frame. A reply to this connection's own request
   * (`own`) is always queued: the connection waits for its queue to shrink
   * before its next request is read (`whenBelowLimit`). A broadcast may fill
   * the queue past `limitBytes` for a moment (a reader that is slow for a
   * while), but not past `hardLimitBytes`, and not for longer than the grace
   * period (see `stalled`): then false, and the connection is dropped as a
   * slow consumer.
   */
  offer(frame: Uint8Array, own = false): boolean {
    if (this.closed || this.overflowed) return false
    if (!own && this.bytes > this.limitBytes) {
      if (this.bytes + frame.length > this.hardLimitBytes || this.stalled(this.clock.unsafeCurrentTimeMillis())) {
        this.overflow()
        return false
      }
    }
    const wire = this.frame === undefined ? frame : this.frame(frame)
    this.bytes += wire.length
    this.chunks.push(wire)
    if (this.overSince === 0 && this.bytes > this.limitBytes) this.overSince = this.clock.unsafeCurrentTimeMillis()
    this.schedule()
    return true
  }

  /** Since when the queue has been over its limit (0: it is not). */
  private overSince = 0

  /** True when the queue has stayed over its limit for longer than the grace period. */
  stalled(now: number): boolean {
    return this.overSince !== 0 && now - this.overSince > this.graceMs
  }

  /** Drops the queue and reports the slow consumer. */
  overflow(): void {
    if (this.overflowed) return
    this.overflowed = true
    this.chunks = []
    this.bytes = 0
    this.overSince = 0
    this.onOverflow()
  }

  /** True while more than `limitBytes` wait for the socket. */
  get overLimit(): boolean {
    return this.bytes > this.limitBytes
  }

  /** Resolves once the queue is back under its limit (or closed). */
  whenBelowLimit(): Effect.Effect<void> {
    return Effect.async<void>((resume) => {
      if (!this.overLimit || this.closed) return resume(Effect.void)
      this.belowLimit = () => resume(Effect.void)
      return Effect.sync(() => {
        this.belowLimit = undefined
      })
    })
  }

  private belowLimit: (() => void) | undefined = undefined

  private notifyBelowLimit(): void {
    if (this.belowLimit !== undefined && (!this.overLimit || this.closed)) {
      const resume = this.belowLimit
      this.belowLimit = undefined
      resume()
    }
  }

  private schedule(): void {
    if (this.queued || this.draining) return
    this.queued = true
    this.flusher.add(this)
  }

  private take(): Uint8Array {
    const chunks = this.chunks
    this.chunks = []
    this.bytes = 0
    this.overSince = 0
    this.notifyBelowLimit()
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)
  }

  /** The socket drained: write what queued meanwhile. */
  drained(): void {
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
      ;(socket as SocketOf)[outboxKey] = this
      socket.once("drain", onDrain)
    }
  }

  /** Hands everything queued to the socket now and accepts nothing more. */
  close(): void {
    this.closed = true
    if (this.chunks.length > 0 && !this.socket.destroyed) this.socket.write(this.take())
    this.notifyBelowLimit()
  }

  /** Writes directly, bypassing the queue (a last BYE to a peer being dropped). */
  writeNow(frame: Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(this.frame === undefined ? frame : this.frame(frame))
  }
}
