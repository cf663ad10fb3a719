/**
 * A latency histogram with bounded relative error (HDR-style, log-linear
 * buckets): values below 128 are exact, larger ones are kept to 1/64 of their
 * magnitude. Recording is O(1) and allocation-free, so the generator can
 * record every delivery, and histograms from several processes merge exactly.
 */

const SUB_BITS = 6
const SUB = 1 << SUB_BITS // 64 sub-buckets per power of two, above the exact range
const EXACT = SUB * 2 // values 0..127 are their own bucket
const MAX_BUCKETS = 40

/** Bucket index of a non-negative integer value. */
export const bucketOf = (value: number): number => {
  const v = value < 0 ? 0 : Math.floor(value)
  if (v < EXACT) return v
  const shift = Math.floor(Math.log2(v)) - SUB_BITS
  // `v >> shift` overflows 32 bits past 2^31: divide instead
  const sub = Math.floor(v / 2 ** shift)
  return SUB * shift + sub
}

/** The range `[low, high]` of values that fall in a bucket. */
export const bucketRange = (index: number): readonly [number, number] => {
  if (index < EXACT) return [index, index]
  const shift = Math.floor(index / SUB) - 1
  const sub = index - SUB * shift
  return [sub * 2 ** shift, (sub + 1) * 2 ** shift - 1]
}

/** A histogram as it crosses a process boundary: non-empty buckets only. */
export interface HistogramData {
  readonly buckets: ReadonlyArray<readonly [number, number]>
  readonly count: number
  readonly min: number
  readonly max: number
  readonly sum: number
}

export class Histogram {
  private counts = new Float64Array(SUB * MAX_BUCKETS)
  count = 0
  min = Infinity
  max = -Infinity
  sum = 0

  record(value: number): void {
    const i = bucketOf(value)
    this.counts[i < this.counts.length ? i : this.counts.length - 1]! += 1
    this.count++
    this.sum += value
    if (value < this.min) this.min = value
    if (value > this.max) this.max = value
  }

  /** The nearest-rank percentile (`p` in 0..100), reported as its bucket's midpoint clamped to [min, max]. */
  percentile(p: number): number {
    if (this.count === 0) return NaN
    const rank = rankOf(p, this.count)
    let seen = 0
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i]!
      if (seen >= rank) {
        const [lo, hi] = bucketRange(i)
        const mid = lo === hi ? lo : (lo + hi) / 2
        return Math.min(this.max, Math.max(this.min, mid))
      }
    }
    return this.max
  }

  get mean(): number {
    return this.count === 0 ? NaN : this.sum / this.count
  }

  merge(other: HistogramData): this {
    for (const [i, n] of other.buckets) this.counts[i]! += n
    this.count += other.count
    this.sum += other.sum
    if (other.count > 0) {
      this.min = Math.min(this.min, other.min)
      this.max = Math.max(this.max, other.max)
    }
    return this
  }

  toData(): HistogramData {
    const buckets: Array<readonly [number, number]> = []
    for (let i = 0; i < this.counts.length; i++) if (this.counts[i]! > 0) buckets.push([i, this.counts[i]!])
    return { buckets, count: this.count, min: this.min, max: this.max, sum: this.sum }
  }

  static fromData(data: HistogramData): Histogram {
    return new Histogram().merge(data)
  }
}

/**
 * The 1-based nearest rank of percentile `p` (0..100) among `n` samples. The
 * product is rounded first: in floating point 99.9% of 1000 is 999.0000000000001,
 * whose ceiling would be one rank too high.
 */
export const rankOf = (p: number, n: number): number =>
  Math.min(n, Math.max(1, Math.ceil(Math.round(((p * n) / 100) * 1e6) / 1e6)))

/** The exact nearest-rank percentile of a sample (for small samples and for checking the histogram). */
export const percentileOf = (values: ReadonlyArray<number>, p: number): number => {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[rankOf(p, sorted.length) - 1]!
}

/** The relative error bound of `Histogram.percentile` for values of 128 and more. */
export const RELATIVE_ERROR = 1 / SUB
