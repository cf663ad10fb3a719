import { assert, describe, it } from "@effect/vitest"
import { FastCheck } from "effect"
import { judgeStep, type KneeConfig, nextStep, type StepOutcome } from "../src/KneeSearch.ts"

const config: KneeConfig = { startRate: 100, factor: 2, refineSteps: 3, maxRate: 100_000, minRate: 1 }

/** Runs the search against a server whose true capacity is `capacity`. */
const search = (cfg: KneeConfig, passes: (rate: number) => boolean) => {
  const history: Array<StepOutcome> = []
  for (let i = 0; i < 100; i++) {
    const next = nextStep(cfg, history)
    if (next._tag === "Done") return { knee: next.knee, history }
    history.push({ rate: next.rate, pass: passes(next.rate) })
  }
  throw new Error("the search did not end")
}

describe("nextStep", () => {
  it("starts at the start rate and doubles while steps pass", () => {
    assert.deepStrictEqual(nextStep(config, []), { _tag: "Step", rate: 100 })
    assert.deepStrictEqual(nextStep(config, [{ rate: 100, pass: true }]), { _tag: "Step", rate: 200 })
  })

  it("bisects the bracket after the first failure", () => {
    const history = [{ rate: 100, pass: true }, { rate: 200, pass: true }, { rate: 400, pass: false }]
    assert.deepStrictEqual(nextStep(config, history), { _tag: "Step", rate: 300 })
    assert.deepStrictEqual(nextStep(config, [...history, { rate: 300, pass: false }]), { _tag: "Step", rate: 250 })
    assert.deepStrictEqual(nextStep(config, [...history, { rate: 300, pass: true }]), { _tag: "Step", rate: 350 })
  })

  it("stops after the refinement steps with the highest passing rate", () => {
    const { knee, history } = search(config, (r) => r <= 330)
    assert.strictEqual(history.length, 3 + 3) // 100 200 400 | 300 350 325
    assert.strictEqual(knee, 325)
  })

  it("comes down when the very first step fails, and gives up below the minimum", () => {
    assert.deepStrictEqual(nextStep(config, [{ rate: 100, pass: false }]), { _tag: "Step", rate: 50 })
    const { knee } = search(config, () => false)
    assert.isUndefined(knee)
  })

  it("stops at the ceiling when everything passes", () => {
    const { knee, history } = search({ ...config, maxRate: 1000 }, () => true)
    assert.strictEqual(knee, 1000)
    assert.strictEqual(history[history.length - 1]!.rate, 1000)
  })

  it.prop(
    "finds a knee within the last bracket and never above the capacity",
    [FastCheck.integer({ min: 1, max: 50_000 }), FastCheck.integer({ min: 1, max: 1000 }), FastCheck.integer({ min: 0, max: 6 })],
    ([capacity, start, refine]) => {
      const cfg = { ...config, startRate: start, refineSteps: refine }
      const { knee, history } = search(cfg, (r) => r <= capacity)
      if (knee === undefined) {
        assert.isTrue(history.every((h) => !h.pass))
        return
      }
      assert.isTrue(knee <= capacity)
      assert.isTrue(history.some((h) => h.pass && h.rate === knee))
      // no tried rate between the knee and the capacity passed without being the knee
      assert.isTrue(history.every((h) => !h.pass || h.rate <= knee))
      // the search is bounded: growth steps plus the refinements
      assert.isTrue(history.length <= Math.ceil(Math.log2(100_000)) + 2 + refine + 20)
    }
  )
})

describe("judgeStep", () => {
  const limits = { maxP99Ms: 50, minSendShare: 0.9 }
  const ok = { targetRate: 100, sentRate: 99, lost: 0, p99Ms: 3 }

  it("passes a clean step", () => {
    assert.deepStrictEqual(judgeStep(ok, limits), { pass: true })
  })

  it("fails on any loss", () => {
    assert.isFalse(judgeStep({ ...ok, lost: 1 }, limits).pass)
  })

  it("fails past the p99 bound, and on a NaN p99 (nothing arrived)", () => {
    assert.isFalse(judgeStep({ ...ok, p99Ms: 50.1 }, limits).pass)
    assert.isTrue(judgeStep({ ...ok, p99Ms: 50 }, limits).pass)
    assert.isFalse(judgeStep({ ...ok, p99Ms: NaN }, limits).pass)
  })

  it("fails when the generator could not offer the rate", () => {
    const verdict = judgeStep({ ...ok, sentRate: 80 }, limits)
    assert.isFalse(verdict.pass)
    if (!verdict.pass) assert.include(verdict.reason, "offered")
  })
})
