/**
 * "At most `limit` events per key in any sliding `windowMs`", on an explicit
 * clock (pure, so the rule is tested without time). Used per address and per
 * (username, address) for the login and registration throttles. Each key
 * keeps at most `limit` timestamps, and keys whose events have all expired
 * are swept now and then, so memory is bounded by the keys active in the
 * last window.
 */
export class SlidingWindow {
  private readonly events = new Map<string, Array<number>>()
  private operations = 0

  constructor(private readonly limit: number, private readonly windowMs: number) {}

  /** Milliseconds from `now` until another event for `key` is allowed (0: allowed now). */
  retryAfter(key: string, now: number): number {
    if (this.limit <= 0) return 0
    const times = this.live(key, now)
    return times.length < this.limit ? 0 : times[0]! + this.windowMs - now
  }

  /** Records an event for `key` at `now`. */
  record(key: string, now: number): void {
    if (this.limit <= 0) return
    const times = this.live(key, now)
    times.push(now)
    if (times.length > this.limit) times.splice(0, times.length - this.limit)
    this.events.set(key, times)
    if (++this.operations % 1024 === 0) this.sweep(now)
  }

  /** Forgets every event of `key`. */
  reset(key: string): void {
    this.events.delete(key)
  }

  /** Keys with an event in the window (for tests and metrics). */
  get size(): number {
    return this.events.size
  }

  /** Drops every key whose events have all expired. */
  sweep(now: number): void {
    for (const [key, times] of this.events) {
      if (times[times.length - 1]! <= now - this.windowMs) this.events.delete(key)
    }
  }

  private live(key: string, now: number): Array<number> {
    const times = this.events.get(key)
    if (times === undefined) return []
    let expired = 0
    while (expired < times.length && times[expired]! <= now - this.windowMs) expired++
    if (expired > 0) times.splice(0, expired)
    if (times.length === 0) this.events.delete(key)
    return times
  }
}
