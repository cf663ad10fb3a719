/**
 * Finding the knee: the highest offered rate a server sustains within the
 * latency bound and without loss. The rate grows geometrically until a step
 * fails, then the bracket [last pass, first fail] is bisected a few times.
 * Pure, so the stepping is unit-tested apart from any socket.
 */

export interface KneeConfig {
  /** First rate tried (messages/s). */
  readonly startRate: number
  /** Growth factor between steps until the first failure (> 1). */
  readonly factor: number
  /** Bisection steps once a failure brackets the knee. */
  readonly refineSteps: number
  /** Never offer more than this. */
  readonly maxRate: number
  /** Give up going down below this when even the first step fails. */
  readonly minRate: number
}

export interface StepOutcome {
  readonly rate: number
  readonly pass: boolean
}

export type KneeNext =
  | { readonly _tag: "Step"; readonly rate: number }
  | { readonly _tag: "Done"; readonly knee: number | undefined }

const step = (rate: number): KneeNext => ({ _tag: "Step", rate: Math.round(rate) })
const done = (knee: number | undefined): KneeNext => ({ _tag: "Done", knee })

/** The next rate to try after `history`, or the knee when the search is over. */
export const nextStep = (config: KneeConfig, history: ReadonlyArray<StepOutcome>): KneeNext => {
  if (history.length === 0) return step(Math.min(config.startRate, config.maxRate))
  let lo: number | undefined // highest passing rate
  let hi: number | undefined // lowest failing rate
  let bracketedAt = -1
  history.forEach((o, i) => {
    if (o.pass) lo = lo === undefined ? o.rate : Math.max(lo, o.rate)
    else hi = hi === undefined ? o.rate : Math.min(hi, o.rate)
    if (bracketedAt < 0 && lo !== undefined && hi !== undefined) bracketedAt = i
  })
  if (hi === undefined) {
    // everything passed so far: grow, up to the ceiling
    const last = lo!
    if (last >= config.maxRate) return done(last)
    return step(Math.min(config.maxRate, last * config.factor))
  }
  if (lo === undefined) {
    // nothing passed yet: come down
    const below = hi / config.factor
    return below < config.minRate ? done(undefined) : step(below)
  }
  // a higher rate passed after a lower one failed: the noise is larger than the bracket
  if (lo >= hi) return done(lo)
  const refined = history.length - 1 - bracketedAt
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
  /** 99th percentile send→receipt latency, milliseconds. */
  readonly p99Ms: number
}

export interface StepLimits {
  readonly maxP99Ms: number
  /** The generator must offer at least this share of the target rate for the step to count. */
  readonly minSendShare: number
}

export type Verdict = { readonly pass: true } | { readonly pass: false; readonly reason: string }

/** A step passes when nothing is lost, p99 is within bound, and the generator really offered the rate. */
export const judgeStep = (m: StepMeasure, limits: StepLimits): Verdict => {
  if (m.lost > 0) return { pass: false, reason: `lost ${m.lost}` }
  if (!(m.p99Ms <= limits.maxP99Ms)) return { pass: false, reason: `p99 ${m.p99Ms.toFixed(1)} ms` }
  if (m.sentRate < m.targetRate * limits.minSendShare) {
    return { pass: false, reason: `offered only ${Math.round(m.sentRate)}/s` }
  }
  return { pass: true }
}
