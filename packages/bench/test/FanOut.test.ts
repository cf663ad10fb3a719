import { assert, describe, it } from "@effect/vitest"
import { efficiency } from "../src/FanOut.ts"

describe("efficiency", () => {
  it("sums deliveries and CPU over the steps that passed", () => {
    const steps = [
      { pass: true, lost: 0, delivered: 1000, serverCpuSec: 0.01 },
      { pass: true, lost: 0, delivered: 3000, serverCpuSec: 0.03 },
      { pass: false, lost: 0, delivered: 900_000, serverCpuSec: 1 },
      { pass: false, lost: 5, delivered: 900_000, serverCpuSec: 1 }
    ]
    assert.strictEqual(efficiency(steps), 100_000)
  })

  it("falls back to the lossless steps when none passed", () => {
    const steps = [
      { pass: false, lost: 0, delivered: 2000, serverCpuSec: 0.01 },
      { pass: false, lost: 1, delivered: 900_000, serverCpuSec: 1 }
    ]
    assert.strictEqual(efficiency(steps), 200_000)
  })

  it("is NaN without a usable step or a CPU reading", () => {
    assert.isNaN(efficiency([{ pass: false, lost: 1, delivered: 1, serverCpuSec: 1 }]))
    assert.isNaN(efficiency([{ pass: true, lost: 0, delivered: 1, serverCpuSec: NaN }]))
  })
})
