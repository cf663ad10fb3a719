/**
 * A token bucket on an explicit clock: `rate` tokens per second up to
 * `burst`. Pure, so the flood-control arithmetic is tested without time.
 */
export class TokenBucket {
  private tokens: number
  private updatedAt: number

  constructor(private readonly rate: number, private readonly burst: number, now: number) {
    this.tokens = burst
    this.updatedAt = now
  }

  private refill(now: number): void {
    if (now > this.updatedAt) {
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) * this.rate) / 1000)
      this.updatedAt = now
    }
  }

  /** Takes a token if one is available at `now`. */
  tryTake(now: number): boolean {
    this.refill(now)
    if (this.tokens >= 1) {
      this.tokens -= 1
      return true
    }
    return false
  }

  /** Milliseconds from `now` until a token is available (0 if one is). */
  waitMs(now: number): number {
    this.refill(now)
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * 1000) / this.rate)
  }
}
