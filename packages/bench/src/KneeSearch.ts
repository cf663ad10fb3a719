/**
 * Finding the knee: the highest offered rate a server sustains within the
 * latency bound and without loss. The rate doubles (the ramp) while steps
 * lose nothing, so that the server is also seen under real load even when a
 * shared machine's noise fails a step on p99 alone; the ramp ends at the
 * first hard failure (a loss, or a rate the generator could not offer) or
 * at the ceiling. Then the bracket [highest pass, lowest failure above it]
 * is bisected a few times.
 * Pure, so the stepping is unit-tested apart from any socket.
 */

export interface KneeConfig {
  /** First rate tried (messages/s). */
  readonly startRate: number
  /** Growth factor between ramp steps (> 1). */
  readonly factor: number
  /** Bisection steps once the ramp is over and a failure brackets the knee. */
  readonly refineSteps: number
  /** Never offer more than this. */
  readonly maxRate: number
  /** Give up going down below this when nothing passes. */
  readonly minRate: number
}

export interface StepOutcome {
  readonly rate: number
  readonly pass: boolean
  /** A failure that ends the ramp at once: something was lost, or the rate was not offered. */
  readonly hard?: boolean
}

export type KneeNext =
  | { readonly _tag: "Step"; readonly rate: number }
  | { readonly _tag: "Done"; readonly knee: number | undefined }

const step = (rate: number): KneeNext => ({ _tag: "Step", rate: Math.round(rate) })
const done = (knee: number | undefined): KneeNext => ({ _tag: "Done", knee })

/** Index of the step that ended the ramp, or -1 while it goes on. */
export const rampEnd = (config: KneeConfig, history: ReadonlyArray<StepOutcome>): number => {
  for (let i = 0; i < history.length; i++) {
    const o = history[i]!
    if (!o.pass && o.hard) return i
    if (o.rate >= config.maxRate) return i
  }
  return -1
}

/** The next rate to try after `history`, or the knee when the search is over. */
export const nextStep = (config: KneeConfig, history: ReadonlyArray<StepOutcome>): KneeNext => {
  if (history.length === 0) return step(Math.min(config.startRate, config.maxRate))
  const end = rampEnd(config, history)
  if (end < 0) return step(Math.min(config.maxRate, history[history.length - 1]!.rate * config.factor))
  let lo: number | undefined // highest passing rate
  for (const o of history) if (o.pass) lo = lo === undefined ? o.rate : Math.max(lo, o.rate)
  if (lo === undefined) {
    // nothing passed: come down below the lowest failure
    const lowest = Math.min(...history.map((o) => o.rate))
    const below = lowest / config.factor
    return below < config.minRate ? done(undefined) : step(below)
  }
  const above = history.filter((o) => !o.pass && o.rate > lo!).map((o) => o.rate)
  if (above.length === 0) return done(lo)
  const hi = Math.min(...above)
  // refinements: the steps since the ramp ended and the bracket first stood
  let bracketAt = end
  for (let i = end; i < history.length; i++) {
    const passedYet = history.slice(0, i + 1).some((o) => o.pass)
    if (passedYet) {
      bracketAt = i
      break
    }
  }
  const refined = history.length - 1 - bracketAt
  const mid = Math.round((lo + hi) / 2)
  if (refined >= config.refineSteps || mid <= lo || mid >= hi) return done(lo)
  return step(mid)
}

/** What a fan-out step measured, as far as judging it needs. */
export interface StepMeasure {
  readonly targetRate: number
  /** Messages actually sent per second during the send window. */
  readonly sentRate: number
  /** Deliveries and ACKs that never arrived (after the drain). */
  readonly lost: number
  /** Deliveries to a connection that was not owed them (outside the room, or twice). */
  readonly misdelivered?: number
  /** 99th percentile send→receipt latency, milliseconds. */
  readonly p99Ms: number
}

export interface StepLimits {
  readonly maxP99Ms: number
  /** The generator must offer at least this share of the target rate for the step to count. */
  readonly minSendShare: number
}

export type Verdict =
  | { readonly pass: true }
  | { readonly pass: false; readonly hard: boolean; readonly reason: string }

/**
 * A step passes when nothing is lost or misdelivered, p99 is within bound,
 * and the generator really offered the rate. Loss, a delivery to a
 * connection that was not owed it, and a rate not offered are hard failures;
 * p99 alone is soft (it may be the machine's noise: the ramp goes on).
 */
export const judgeStep = (m: StepMeasure, limits: StepLimits): Verdict => {
  if ((m.misdelivered ?? 0) > 0) return { pass: false, hard: true, reason: `misdelivered ${m.misdelivered}` }
  if (m.lost > 0) return { pass: false, hard: true, reason: `lost ${m.lost}` }
  if (m.sentRate < m.targetRate * limits.minSendShare) {
    return { pass: false, hard: true, reason: `offered only ${Math.round(m.sentRate)}/s` }
  }
  if (!(m.p99Ms <= limits.maxP99Ms)) return { pass: false, hard: false, reason: `p99 ${m.p99Ms.toFixed(1)} ms` }
  return { pass: true }
}
