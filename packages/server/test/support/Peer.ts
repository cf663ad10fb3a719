/**
 * What the raw test peers share, whatever carries their frames (`Wire` over TCP or TLS, `WsWire`
 * over WebSocket): every frame received, the ones no read has taken yet, and the waits on them.
 * Waits are real time (run under `it.live` / `it.scopedLive`) and bounded, so a missing frame
 * fails the test with what did arrive instead of hanging it; each transport says how it fails
 * and how it tells that the connection has ended.
 */
import { Duration, Effect } from "effect"

/** A frame as the server sent it. */
export type Frame = { readonly type: string; readonly [field: string]: unknown }

export const DEFAULT_WAIT = Duration.seconds(10)

const show = (frames: ReadonlyArray<Frame>) => frames.map((f) => JSON.stringify(f).slice(0, 300)).join("\n  ")

/** `text` parsed as a frame, or a stand-in saying why it is not one (with the text under `key`). */
export const parseFrame = (text: string, key: "line" | "text"): Frame => {
  try {
    const parsed: unknown = JSON.parse(text)
    return typeof parsed === "object" && parsed !== null && typeof (parsed as Frame).type === "string"
      ? parsed as Frame
      : { type: "<not a frame>", [key]: text }
  } catch {
    return { type: "<not JSON>", [key]: text }
  }
}

export abstract class Peer<E> {
  /** Every frame received so far, in order. */
  readonly received: Array<Frame> = []
  protected pending: Array<Frame> = []
  private readonly waiters = new Set<() => void>()
  protected helloFrame: Frame | undefined

  constructor(readonly label: string) {}

  /** This transport's error, saying `message`. */
  protected abstract error(message: string): E

  /** How the connection ended ("connection closed"), or undefined while it is open. */
  protected abstract get ended(): string | undefined

  /** Sends one frame. */
  abstract send(frame: Readonly<Record<string, unknown>>): Effect.Effect<void, E>

  /** The HELLO frame the server greeted this connection with. */
  get hello(): Frame {
    return this.helloFrame!
  }

  /** Keeps a frame that arrived; `wake` once the frames at hand are in. */
  protected receive(frame: Frame) {
    this.received.push(frame)
    this.pending.push(frame)
  }

  /** Lets every wait look again (frames arrived, or the connection ended). */
  protected wake() {
    const waiters = [...this.waiters]
    this.waiters.clear()
    for (const w of waiters) w()
  }

  /**
   * Waits until `check` gives a result, looking now and again each time frames arrive or the
   * connection ends, for at most `wait`; `timedOut` says what did not happen in time.
   */
  protected waitUntil<A>(
    check: () => Effect.Effect<A, E> | undefined,
    wait: Duration.DurationInput,
    timedOut: () => string
  ): Effect.Effect<A, E> {
    return Effect.async<A, E>((resume) => {
      const attempt = () => {
        const result = check()
        if (result !== undefined) resume(result)
        else this.waiters.add(attempt)
      }
      attempt()
      return Effect.sync(() => void this.waiters.delete(attempt))
    }).pipe(Effect.timeoutFail({ duration: wait, onTimeout: () => this.error(`${this.label}: ${timedOut()}`) }))
  }

  /**
   * The first frame, received or yet to come, that satisfies `pick`; frames
   * before it stay queued for later reads (events interleave with replies).
   */
  pick(pick: (frame: Frame) => boolean, wait: Duration.DurationInput = DEFAULT_WAIT): Effect.Effect<Frame, E> {
    return this.waitUntil(
      () => {
        const at = this.pending.findIndex(pick)
        if (at !== -1) return Effect.succeed(this.pending.splice(at, 1)[0]!)
        const ended = this.ended
        if (ended !== undefined) {
          return Effect.fail(this.error(`${this.label}: ${ended}; received:\n  ${show(this.received.slice(-10))}`))
        }
        return undefined
      },
      wait,
      () => `nothing expected within ${Duration.format(wait)}; last received:\n  ${show(this.received.slice(-10))}`
    )
  }

  /** The next frame, in order. */
  next(wait: Duration.DurationInput = DEFAULT_WAIT): Effect.Effect<Frame, E> {
    return this.pick(() => true, wait)
  }

  /** `frame` if `ok`, else a failure saying what was expected instead. */
  protected expected(frame: Frame, ok: boolean, what: string): Effect.Effect<Frame, E> {
    return ok
      ? Effect.succeed(frame)
      : Effect.fail(this.error(`${this.label}: expected ${what}, got ${JSON.stringify(frame).slice(0, 500)}`))
  }

  /** The next frame, which must be of `type`. */
  expect(type: string, wait?: Duration.DurationInput): Effect.Effect<Frame, E> {
    return Effect.flatMap(this.next(wait), (frame) => this.expected(frame, frame.type === type, type))
  }

  /** The next frame, which must be an ERROR with `code`. */
  expectError(code: string, wait?: Duration.DurationInput): Effect.Effect<Frame, E> {
    return Effect.flatMap(
      this.next(wait),
      (frame) => this.expected(frame, frame.type === "ERROR" && frame.code === code, `ERROR ${code}`)
    )
  }

  /** The reply of `type` to a request, skipping (and keeping) events; an ERROR or BYE instead fails. */
  reply(type: string, wait?: Duration.DurationInput): Effect.Effect<Frame, E> {
    return Effect.flatMap(
      this.pick((f) => f.type === type || f.type === "ERROR" || f.type === "BYE", wait),
      (frame) => this.expected(frame, frame.type === type, type)
    )
  }

  /** Sends a frame and returns its reply of `type`, leaving events that arrive meanwhile queued. */
  ask(
    frame: Readonly<Record<string, unknown>>,
    type: string,
    wait?: Duration.DurationInput
  ): Effect.Effect<Frame, E> {
    return Effect.zipRight(this.send(frame), this.reply(type, wait))
  }

  /** Frames up to and including the first of `type`; the frames before it are returned too. */
  until(
    type: string,
    wait?: Duration.DurationInput
  ): Effect.Effect<{ readonly frame: Frame; readonly before: Array<Frame> }, E> {
    return Effect.gen(this, function*() {
      const before: Array<Frame> = []
      while (true) {
        const frame = yield* this.next(wait)
        if (frame.type === type) return { frame, before }
        before.push(frame)
      }
    })
  }

  /**
   * A barrier: PING and wait for its PONG. Replies keep request order, so every
   * reply to an earlier request on this connection has arrived; the frames that
   * came first are returned.
   */
  sync(wait?: Duration.DurationInput): Effect.Effect<Array<Frame>, E> {
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
}
