import { assert, describe, it } from "@effect/vitest"
import { FastCheck } from "effect"
import { TokenBucket } from "../src/TokenBucket.ts"

describe("TokenBucket", () => {
  it("allows a burst, then the sustained rate", () => {
    const bucket = new TokenBucket(10, 5, 0)
    for (let i = 0; i < 5; i++) assert.isTrue(bucket.tryTake(0))
    assert.isFalse(bucket.tryTake(0))
    assert.strictEqual(bucket.waitMs(0), 100)
    assert.isFalse(bucket.tryTake(99))
    assert.isTrue(bucket.tryTake(100))
    assert.isFalse(bucket.tryTake(100))
  })

  it("never holds more than the burst", () => {
    const bucket = new TokenBucket(1000, 3, 0)
    let taken = 0
    while (bucket.tryTake(60_000)) taken++
    assert.strictEqual(taken, 3)
  })

  it.prop("admits at most burst + rate * elapsed, and never refuses when a token is due [1,000 runs]", [
    FastCheck.integer({ min: 1, max: 200 }),
    FastCheck.integer({ min: 1, max: 50 }),
    FastCheck.array(FastCheck.integer({ min: 0, max: 500 }), { maxLength: 200 })
  ], ([rate, burst, gaps]) => {
    const bucket = new TokenBucket(rate, burst, 0)
    let now = 0
    let taken = 0
    for (const gap of gaps) {
      now += gap
      const wait = bucket.waitMs(now)
      const ok = bucket.tryTake(now)
      assert.strictEqual(ok, wait === 0)
      if (ok) taken++
      assert.isAtMost(taken, burst + (rate * now) / 1000 + 1e-9)
    }
  }, { fastCheck: { numRuns: 1000 } })
})
