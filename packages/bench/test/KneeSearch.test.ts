import { assert, describe, it } from "@effect/vitest"
import { FastCheck } from "effect"
import { judgeStep, type KneeConfig, nextStep, type StepOutcome } from "../src/KneeSearch.ts"

const config: KneeConfig = { startRate: 100, factor: 2, refineSteps: 3, maxRate: 100_000, minRate: 1 }

/** Runs the search against a server: `verdict(rate)` says whether a step passes, and if not, how. */
const search = (cfg: KneeConfig, verdict: (rate: number) => "pass" | "soft" | "hard") => {
  const history: Array<StepOutcome> = []
  for (let i = 0; i < 200; i++) {
    const next = nextStep(cfg, history)
    if (next._tag === "Done") return { knee: next.knee, history }
    const v = verdict(next.rate)
    history.push({ rate: next.rate, pass: v === "pass", hard: v === "hard" })
  }
  throw new Error("the search did not end")
}

/** A server that keeps p99 up to `capacity` and loses messages past `lossAt`. */
const server = (capacity: number, lossAt = capacity * 3) => (rate: number) =>
  rate <= capacity ? "pass" as const : rate >= lossAt ? "hard" as const : "soft" as const

describe("nextStep", () => {
  it("starts at the start rate and doubles while steps pass", () => {
    assert.deepStrictEqual(nextStep(config, []), { _tag: "Step", rate: 100 })
    assert.deepStrictEqual(nextStep(config, [{ rate: 100, pass: true }]), { _tag: "Step", rate: 200 })
  })

  it("ramps on past one p99 failure, and ends the ramp at a loss", () => {
    const soft = [{ rate: 100, pass: true }, { rate: 200, pass: false, hard: false }]
    assert.deepStrictEqual(nextStep(config, soft), { _tag: "Step", rate: 400 })
    const lossy = [{ rate: 100, pass: true }, { rate: 200, pass: false, hard: true }]
    assert.deepStrictEqual(nextStep(config, lossy), { _tag: "Step", rate: 150 })
  })

  it("ramps through p99 failures until a loss, then bisects above the highest pass", () => {
    const soft = [
      { rate: 100, pass: true },
      { rate: 200, pass: true },
      { rate: 400, pass: false, hard: false },
      { rate: 800, pass: false, hard: false }
    ]
    assert.deepStrictEqual(nextStep(config, soft), { _tag: "Step", rate: 1600 })
    const history = [...soft, { rate: 1600, pass: false, hard: true }]
    assert.deepStrictEqual(nextStep(config, history), { _tag: "Step", rate: 300 })
    assert.deepStrictEqual(nextStep(config, [...history, { rate: 300, pass: false }]), { _tag: "Step", rate: 250 })
    assert.deepStrictEqual(nextStep(config, [...history, { rate: 300, pass: true }]), { _tag: "Step", rate: 350 })
  })

  it("takes a pass above a noisy failure as the new floor", () => {
    const noisy = [
      { rate: 100, pass: true },
      { rate: 200, pass: false, hard: false },
      { rate: 400, pass: true },
      { rate: 800, pass: false, hard: true }
    ]
    assert.deepStrictEqual(nextStep(config, noisy), { _tag: "Step", rate: 600 })
  })

  it("stops after the refinement steps with the highest passing rate", () => {
    const { history, knee } = search(config, server(330, 700))
    // ramp 100 200 400 (p99) 800 (loss), then 300 350 325
    assert.deepStrictEqual(history.map((h) => h.rate), [100, 200, 400, 800, 300, 350, 325])
    assert.strictEqual(knee, 325)
  })

  it("comes down when the very first step loses, and gives up below the minimum", () => {
    assert.deepStrictEqual(nextStep(config, [{ rate: 100, pass: false, hard: true }]), { _tag: "Step", rate: 50 })
    const { knee } = search(config, () => "hard")
    assert.isUndefined(knee)
  })

  it("stops at the ceiling when everything passes", () => {
    const { history, knee } = search({ ...config, maxRate: 1000 }, () => "pass")
    assert.strictEqual(knee, 1000)
    assert.strictEqual(history[history.length - 1]!.rate, 1000)
  })

  it.prop(
    "finds a knee no higher than the capacity, in few steps",
    [
      FastCheck.integer({ min: 1, max: 50_000 }),
      FastCheck.integer({ min: 1, max: 1000 }),
      FastCheck.integer({ min: 0, max: 6 }),
      FastCheck.double({ min: 1.01, max: 4, noNaN: true })
    ],
    ([capacity, start, refine, lossFactor]) => {
      const cfg = { ...config, startRate: start, refineSteps: refine }
      const { history, knee } = search(cfg, server(capacity, capacity * lossFactor))
      if (knee === undefined) {
        assert.isTrue(history.every((h) => !h.pass))
        return
      }
      assert.isTrue(knee <= capacity)
      assert.isTrue(history.some((h) => h.pass && h.rate === knee))
      assert.isTrue(history.every((h) => !h.pass || h.rate <= knee))
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

  it("fails hard on any loss", () => {
    assert.deepStrictEqual(judgeStep({ ...ok, lost: 1 }, limits), { pass: false, hard: true, reason: "lost 1" })
  })

  it("fails hard on a delivery to a connection that was not owed it", () => {
    assert.deepStrictEqual(judgeStep({ ...ok, misdelivered: 2 }, limits), {
      pass: false,
      hard: true,
      reason: "misdelivered 2"
    })
    assert.isTrue(judgeStep({ ...ok, misdelivered: 0 }, limits).pass)
  })

  it("fails softly past the p99 bound, and on a NaN p99 (nothing arrived)", () => {
    assert.deepStrictEqual(judgeStep({ ...ok, p99Ms: 50.1 }, limits), {
      pass: false,
      hard: false,
      reason: "p99 50.1 ms"
    })
    assert.isTrue(judgeStep({ ...ok, p99Ms: 50 }, limits).pass)
    assert.isFalse(judgeStep({ ...ok, p99Ms: NaN }, limits).pass)
  })

  it("fails when the generator could not offer the rate", () => {
    const verdict = judgeStep({ ...ok, sentRate: 80 }, limits)
    assert.isFalse(verdict.pass)
    if (!verdict.pass) assert.include(verdict.reason, "offered")
  })
})
