/**
 * Reconnect timing as an Effect `Schedule`: exponential backoff with jitter,
 * capped, stopping on errors that a retry cannot fix. The client steps it by
 * hand (instead of `Effect.retry`) so it can show the countdown before it
 * sleeps and reset it after every successful CONNECT.
 */
import { Clock, Duration, Effect, Option, Ref, Schedule, ScheduleDecision } from "effect"

/** How the client waits between dials. */
export interface BackoffOptions {
  /** The first delay (default 250 ms); each next one doubles, ±20% jitter. */
  readonly base?: Duration.DurationInput | undefined
  /** The longest delay (default 30 s). */
  readonly cap?: Duration.DurationInput | undefined
}

/** The reconnect schedule: its output is the delay before the next dial; it stops when `retryable` says no. */
export const reconnectSchedule = <E>(
  retryable: (error: E) => boolean,
  options: BackoffOptions = {}
): Schedule.Schedule<Duration.Duration, E> =>
  Schedule.exponential(options.base ?? "250 millis", 2).pipe(
    Schedule.jittered,
    // union takes the shorter delay of the two: the cap
    Schedule.union(Schedule.spaced(options.cap ?? "30 seconds")),
    Schedule.whileInput(retryable),
    Schedule.delays
  )

/** A schedule stepped one failure at a time. */
export interface Backoff<E> {
  /** The delay before the next dial after `error`, or none when it must not be retried. */
  readonly next: (error: E) => Effect.Effect<Option.Option<Duration.Duration>>
  /** Starts over from the first delay (after a successful CONNECT). */
  readonly reset: Effect.Effect<void>
}

/** Makes a stateful stepper for `schedule`. */
export const make = <E>(schedule: Schedule.Schedule<Duration.Duration, E>): Effect.Effect<Backoff<E>> =>
  Effect.map(Ref.make<unknown>(schedule.initial), (state) => ({
    next: (error: E) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const [next, delay, decision] = yield* schedule.step(now, error, yield* Ref.get(state))
        if (ScheduleDecision.isDone(decision)) return Option.none()
        yield* Ref.set(state, next)
        return Option.some(delay)
      }),
    reset: Ref.set(state, schedule.initial)
  }))
