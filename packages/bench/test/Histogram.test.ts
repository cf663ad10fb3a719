import { assert, describe, it } from "@effect/vitest"
import { FastCheck } from "effect"
import { bucketOf, bucketRange, Histogram, percentileOf, rankOf, RELATIVE_ERROR } from "../src/Histogram.ts"

const samples = FastCheck.array(FastCheck.integer({ min: 0, max: 60_000_000 }), { minLength: 1, maxLength: 400 })
const percentile = FastCheck.constantFrom(0, 1, 50, 90, 99, 99.9, 100)

describe("percentileOf", () => {
  it("is the nearest rank", () => {
    const values = [15, 20, 35, 40, 50]
    assert.strictEqual(percentileOf(values, 5), 15)
    assert.strictEqual(percentileOf(values, 30), 20)
    assert.strictEqual(percentileOf(values, 40), 20)
    assert.strictEqual(percentileOf(values, 50), 35)
    assert.strictEqual(percentileOf(values, 100), 50)
  })

  it("of nothing is NaN", () => {
    assert.isNaN(percentileOf([], 50))
  })

  it("p99 of 1000 samples is the 990th, p99.9 the 999th", () => {
    const values = Array.from({ length: 1000 }, (_, i) => 1000 - i)
    assert.strictEqual(percentileOf(values, 99), 990)
    assert.strictEqual(percentileOf(values, 99.9), 999)
  })

  it.prop("does not depend on the order of the samples", [samples, percentile], ([values, p]) => {
    assert.strictEqual(percentileOf(values, p), percentileOf([...values].reverse(), p))
  })

  it.prop("rank stays within 1..n", [FastCheck.integer({ min: 1, max: 10_000 }), percentile], ([n, p]) => {
    const r = rankOf(p, n)
    assert.isTrue(r >= 1 && r <= n)
  })
})

describe("Histogram", () => {
  it("keeps small values exactly", () => {
    const h = new Histogram()
    for (const v of [3, 1, 2, 127]) h.record(v)
    assert.strictEqual(h.percentile(50), 2)
    assert.strictEqual(h.percentile(100), 127)
    assert.strictEqual(h.count, 4)
  })

  it.prop(
    "buckets are contiguous and each value falls in its own",
    [FastCheck.integer({ min: 0, max: 2 ** 40 })],
    ([v]) => {
      const [lo, hi] = bucketRange(bucketOf(v))
      assert.isTrue(lo <= v && v <= hi)
      const [, prevHi] = bucketRange(bucketOf(v) - 1 < 0 ? 0 : bucketOf(v) - 1)
      if (bucketOf(v) > 0) assert.strictEqual(prevHi + 1, lo)
    }
  )

  it.prop("percentiles are within the relative error of the exact ones", [samples, percentile], ([values, p]) => {
    const h = new Histogram()
    for (const v of values) h.record(v)
    const exact = percentileOf(values, p)
    const approx = h.percentile(p)
    assert.isTrue(Math.abs(approx - exact) <= Math.max(1, exact * RELATIVE_ERROR), `${approx} vs ${exact}`)
  })

  it.prop("merging equals recording everything in one", [samples, samples, percentile], ([a, b, p]) => {
    const one = new Histogram()
    for (const v of [...a, ...b]) one.record(v)
    const left = new Histogram()
    for (const v of a) left.record(v)
    const right = new Histogram()
    for (const v of b) right.record(v)
    const merged = Histogram.fromData(left.toData()).merge(right.toData())
    assert.strictEqual(merged.count, one.count)
    assert.strictEqual(merged.percentile(p), one.percentile(p))
    assert.strictEqual(merged.max, one.max)
    assert.strictEqual(merged.min, one.min)
  })

  it("of nothing has NaN percentiles", () => {
    assert.isNaN(new Histogram().percentile(99))
  })
})
