/**
 * One connection (TCP, TLS or WebSocket: see `Transport`): its socket, outbox, framer and state. Inbound bytes
 * are framed synchronously in the socket's data handler and pushed, in
 * order, into a bounded inbox; the connection's worker fiber takes them in
 * batches (`takeFrames`) and handles them in order. When the inbox is full the
 * socket is paused, so a client that floods (or is being slowed by flood
 * control) is simply not read, and its memory stays bounded.
 */
import {
  type ByeReason,
  type Command,
  encodeFrame,
  type FrameEvent,
  Framer,
  PROTOCOL_VERSION,
  type ServerFrame
} from "@parley/protocol"
import { type Clock, Deferred, Effect, FiberId } from "effect"
import type { Authenticated, Member, Peer } from "./Hub.ts"
import type { Metrics } from "./Metrics.ts"
import { Outbox, type OutboxFlusher } from "./Outbox.ts"
import type { ServerSettings } from "./ServerConfig.ts"
import { TokenBucket } from "./TokenBucket.ts"
import type { FrameSource, Transport } from "./Transport.ts"
import { WorkerSchedule } from "./Worker.ts"

/** A frame as the worker takes it: as framed, or already decoded by the fast path. */
export type Inbound =
  | FrameEvent
  | { readonly _tag: "Decoded"; readonly command: Command }
  // the fast path threw while handling it: answered INTERNAL, never run a second time
  | { readonly _tag: "Faulted"; readonly command: Command; readonly defect: unknown }

/**
 * Handles a frame at once, in the data handler, when nothing needs a fiber
 * (see `Commands.msgNow`): true when done, or the frame (decoded, if it could
 * be) for the worker.
 */
export type FastPath = (conn: Connection, event: FrameEvent) => true | Inbound

/** Frames buffered before the socket is paused. */
const INBOX_HIGH_WATER = 64
const INBOX_LOW_WATER = 16

export const SERVER_NAME = "parley 0.1.0"

const noFrames: Array<Inbound> = []
// shared and never pushed to: replaced by a fresh array on first use
const noWaiters: Array<() => void> = []

const connectionKey = Symbol("@parley/server/Connection")
type SocketOf = Transport & { [connectionKey]?: Connection }

function onData(this: SocketOf, chunk: Buffer): void {
  this[connectionKey]?.received(chunk)
}
function onEnd(this: SocketOf): void {
  this[connectionKey]?.end()
}
function onError(): void {
  // 'close' follows and ends the connection
}

/** How long a dropped slow consumer gets to read what was already written (and the BYE). */
const SLOW_CONSUMER_GRACE_MS = 30_000

/** Why the server closes a connection: a BYE reason, the client's DISCONNECT, or a defect in its worker. */
export type ClosingReason = ByeReason | "disconnect" | "failed"

export type { Authenticated }

/** A connection whose CONNECT has succeeded (see `isMember`). */
export type LoggedIn = Connection & Member

/** A frame held back while CONNECT replays history; `messageId` for MESSAGE events. */
export interface Held {
  readonly frame: Uint8Array
  readonly messageId: number | undefined
}

const revokedBye: ServerFrame = { type: "BYE", reason: "revoked" }
const lockedBye: ServerFrame = { type: "BYE", reason: "locked" }

/** What this server speaks beyond protocol v1 (HELLO `features`). */
const features = ["rooms"] as const

/**
 * What a connection needs from its server. Its times come from the server's
 * Effect `Clock` (a TestClock in tests), read synchronously: the data handler
 * reads it on every chunk, and `clock.unsafeCurrentTimeMillis()` measured as
 * cheap as `Date.now()` (35 ns each, 20 M calls).
 */
export interface ConnectionContext {
  readonly settings: ServerSettings
  readonly metrics: Pick<Metrics, "errorSent">
  readonly flusher: OutboxFlusher
  readonly clock: Clock.Clock
}

/** Failed logins on one connection before further attempts are refused for a while. */
const FREE_LOGIN_FAILURES = 10

export class Connection implements Peer {
  private session: Authenticated | undefined = undefined
  /** Frames held back while the CONNECT replay is being assembled. */
  private held: Array<Held> | undefined = undefined
  /**
   * The newest message id its CONNECT replay covered: a live MESSAGE up to it
   * was committed before the replay's read, so the client has it or is not
   * to get it (ids are assigned in commit order). A cluster's feed, or a
   * fan-out that runs just after the commit, can still bring one: dropped.
   */
  private replayedThrough = 0
  private closingReason: ClosingReason | undefined = undefined
  private lastFrame: number
  /** When the socket was accepted: CONNECT must succeed within `authTimeoutSeconds` of it. */
  readonly openedAt: number
  private failedLogins = 0
  /** Logins on this connection are refused until then (ms since the epoch). */
  private lockedUntil = 0
  /** When this connection's worker runs. */
  readonly worker = new WorkerSchedule()
  readonly settings: ServerSettings
  private readonly metrics: Pick<Metrics, "errorSent">
  private readonly clock: Clock.Clock
  readonly outbox: Outbox
  readonly framer: FrameSource
  private readonly bucket: TokenBucket | undefined
  private pendingAcks = 0
  private ackWaiters: Array<() => void> = noWaiters
  private paused = false
  private inbox: Array<Inbound> = []
  private fast: FastPath | undefined = undefined
  private peerGone = false
  /** Recording the end of the connection (session, presence, log) has begun. */
  private cleanedUp = false
  /** Done once the end of the connection is recorded (made when someone waits for it). */
  private endedDeferred: Deferred.Deferred<void> | undefined = undefined

  get ended(): Deferred.Deferred<void> {
    return (this.endedDeferred ??= Deferred.unsafeMake(FiberId.none))
  }

  constructor(
    readonly connectionId: number,
    readonly socket: Transport,
    readonly remoteAddress: string,
    { clock, flusher, metrics, settings }: ConnectionContext,
    framer?: FrameSource
  ) {
    this.settings = settings
    this.metrics = metrics
    this.clock = clock
    this.openedAt = this.lastFrame = clock.unsafeCurrentTimeMillis()
    this.outbox = new Outbox(socket, flusher, clock, settings.outboundLimitBytes, () => this.dropSlowConsumer())
    this.framer = framer ?? new Framer(settings.maxFrameBytes)
    this.bucket = settings.msgRate > 0
      ? new TokenBucket(settings.msgRate, Math.max(1, settings.msgBurst), this.openedAt)
      : undefined
  }

  /** Its session once CONNECT has succeeded; none before. */
  get auth(): Authenticated | undefined {
    return this.session
  }

  /** Records a successful CONNECT: from here on the connection is a hub member. */
  logIn(auth: Authenticated): asserts this is Member {
    this.session = auth
  }

  /** The credentials were right: the count of failed logins starts again. */
  loginSucceeded(): void {
    this.failedLogins = 0
  }

  /** How long until this connection may try to log in again (0: now). */
  loginLockedFor(now: number): number {
    return Math.max(0, this.lockedUntil - now)
  }

  /** A failed login: past the free ones, each locks the connection for longer (1 s, 2 s, … up to a minute). */
  loginFailed(now: number): void {
    this.failedLogins++
    if (this.failedLogins >= FREE_LOGIN_FAILURES) {
      this.lockedUntil = now + Math.min(60_000, 1000 * 2 ** (this.failedLogins - FREE_LOGIN_FAILURES))
    }
  }

  /** Why the server is closing this connection, once it is ("failed": its worker hit a defect). */
  get closing(): ClosingReason | undefined {
    return this.closingReason
  }

  /** When the last frame arrived (for the idle timeout). */
  get lastFrameAt(): number {
    return this.lastFrame
  }

  /** Holds live frames back (see `releaseHeld`) while a CONNECT replay is assembled. */
  holdDeliveries(): void {
    this.held = []
  }

  /** Ends holding frames back; returns those held, for the caller to merge into the replay. */
  releaseHeld(replayedThrough: number): ReadonlyArray<Held> {
    const held = this.held ?? []
    this.held = undefined
    this.replayedThrough = replayedThrough
    return held
  }

  /** True the first time only: the caller records the connection's end; later callers wait for `ended`. */
  beginCleanup(): boolean {
    if (this.cleanedUp) return false
    this.cleanedUp = true
    return true
  }

  /** Encodes and queues one frame for this connection only. */
  send(frame: ServerFrame): void {
    // every ERROR frame leaves through here, whichever path produced it
    if (frame.type === "ERROR") this.metrics.errorSent(frame.code)
    this.outbox.offer(encodeFrame(frame), true)
  }

  /** Queues an already encoded frame (from the hub). */
  deliver(frame: Uint8Array, messageId?: number): void {
    if (messageId !== undefined && messageId <= this.replayedThrough) return
    if (this.held !== undefined) this.held.push({ frame, messageId })
    else this.outbox.offer(frame)
  }

  hello(): void {
    this.send({
      type: "HELLO",
      protocol: PROTOCOL_VERSION,
      server: SERVER_NAME,
      limits: { max_frame_bytes: this.settings.maxFrameBytes, max_text_chars: this.settings.maxTextChars },
      features
    })
  }

  /**
   * Wires the socket to the framer and the inbox (synchronously, so order is
   * kept). `wake(conn)` is called when there are frames to handle or the
   * connection has ended; it starts a worker fiber if none is running. The
   * listeners are shared functions, not closures: an idle connection should
   * cost as little as the socket itself.
   */
  attach(wake: (conn: Connection) => void, fast?: FastPath): void {
    this.wake = wake
    this.fast = fast
    const socket = this.socket as SocketOf
    socket[connectionKey] = this
    socket.on("data", onData)
    socket.on("end", onEnd)
    socket.on("close", onEnd)
    socket.on("error", onError)
  }

  /**
   * Frames a chunk from the socket into the inbox. While no worker holds
   * frames (none runs, or it is waiting for more), frames the fast path can
   * finish are handled right here, in order, without a fiber; the first it
   * cannot finish, and all after it, go to the worker.
   */
  received(chunk: Buffer): void {
    if (this.closing !== undefined) return
    const inbox = this.inbox
    const before = inbox.length
    this.framer.pushInto(chunk, inbox as Array<FrameEvent>)
    if (inbox.length === before) return
    this.lastFrame = this.clock.unsafeCurrentTimeMillis()
    if (before === 0 && this.fast !== undefined && !this.worker.holdsFrames) {
      let done = 0
      while (done < inbox.length && this.closing === undefined && !this.outbox.overLimit) {
        const result = this.fast(this, inbox[done] as FrameEvent)
        if (result !== true) {
          inbox[done] = result
          break
        }
        done++
      }
      if (done === inbox.length) {
        inbox.length = 0
        return
      }
      if (done > 0) inbox.splice(0, done)
    }
    if (!this.paused && inbox.length >= INBOX_HIGH_WATER) {
      this.paused = true
      this.socket.pause()
    }
    this.wake(this)
  }

  private wake: (conn: Connection) => void = () => {}

  /** No more frames will be handled: the peer closed, or the server is closing. */
  end(): void {
    if (this.peerGone) return
    this.peerGone = true
    this.wake(this)
  }

  /** Frames are waiting or being handled, or MSGs await their commit. */
  get busy(): boolean {
    return this.worker.active || this.paused || this.inbox.length > 0 || this.pendingAcks > 0
  }

  /** True once no more frames will be handled. */
  get finished(): boolean {
    return this.peerGone || this.closing !== undefined
  }

  /** Takes the frames that arrived, in order (none once the connection is closing). */
  takeFrames(): Array<Inbound> {
    if (this.closing !== undefined || this.inbox.length === 0) return noFrames
    const frames = this.inbox
    this.inbox = []
    return frames
  }

  /** Resumes reading once the consumer has caught up. */
  maybeResume(): void {
    if (this.paused && this.closing === undefined && this.inbox.length <= INBOX_LOW_WATER) {
      this.paused = false
      this.socket.resume()
    }
  }

  /** Flood control without waiting: true when a MSG may go now (and takes its token). */
  tryTakeToken(): boolean {
    return this.bucket === undefined || this.bucket.tryTake(this.clock.unsafeCurrentTimeMillis())
  }

  /** Flood control: waits (with the socket unread) until this connection may send a MSG. */
  throttle(): Effect.Effect<void> {
    const bucket = this.bucket
    if (bucket === undefined || bucket.tryTake(this.clock.unsafeCurrentTimeMillis())) return Effect.void
    return Effect.flatMap(Effect.sleep(bucket.waitMs(this.clock.unsafeCurrentTimeMillis())), () => this.throttle())
  }

  /** A MSG was queued for commit; its ACK is pending. */
  ackPending(): void {
    this.pendingAcks++
  }

  ackDone(): void {
    this.pendingAcks--
    if (this.pendingAcks === 0 && this.ackWaiters.length > 0) {
      const waiters = this.ackWaiters
      this.ackWaiters = noWaiters
      for (const w of waiters) w()
    }
  }

  /** Waits until every MSG of this connection is ACKed, so replies keep request order. */
  awaitAcks(): Effect.Effect<void> {
    if (this.pendingAcks === 0) return Effect.void
    return Effect.async<void>((resume) => {
      if (this.pendingAcks === 0) return resume(Effect.void)
      if (this.ackWaiters === noWaiters) this.ackWaiters = []
      this.ackWaiters.push(() => resume(Effect.void))
    })
  }

  /** Closes: a last BYE (if any), flush what is queued, end the socket, record the end. */
  close(reason: ClosingReason, frame?: ServerFrame): void {
    this.closeQuietly(reason, frame)
    this.end()
  }

  /** The first half of `close`, without starting the worker that records the end. */
  closeQuietly(reason: ClosingReason, frame?: ServerFrame): void {
    if (this.closing !== undefined) return
    this.closingReason = reason
    if (frame !== undefined) this.send(frame)
    this.outbox.close()
    this.socket.end()
  }

  revoke(reason: "revoked" | "locked" = "revoked"): void {
    this.close(reason, reason === "revoked" ? revokedBye : lockedBye)
  }

  private dropSlowConsumer(): void {
    if (this.closing !== undefined) return
    this.closingReason = "slow_consumer"
    // what was not yet handed to the socket is dropped; the BYE follows the
    // frames already written (whole lines), then FIN. A peer that resumes
    // reading sees every line it got, then the BYE; one that never does is
    // cut off after a grace period.
    this.outbox.writeNow(encodeFrame({ type: "BYE", reason: "slow_consumer" }))
    this.outbox.close()
    this.socket.end()
    setTimeout(() => this.socket.destroy(), SLOW_CONSUMER_GRACE_MS).unref()
    this.end()
  }
}
