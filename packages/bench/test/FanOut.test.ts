import { assert, describe, it } from "@effect/vitest"
import { efficiency } from "../src/FanOut.ts"

describe("efficiency", () => {
  it("sums deliveries and CPU over the steps that lost nothing", () => {
    const steps = [
      { lost: 0, delivered: 1000, serverCpuSec: 0.01 },
      { lost: 0, delivered: 3000, serverCpuSec: 0.03 },
      { lost: 5, delivered: 900_000, serverCpuSec: 1 }
    ]
    assert.strictEqual(efficiency(steps), 100_000)
  })

  it("is NaN without a lossless step or a CPU reading", () => {
    assert.isNaN(efficiency([{ lost: 1, delivered: 1, serverCpuSec: 1 }]))
    assert.isNaN(efficiency([{ lost: 0, delivered: 1, serverCpuSec: NaN }]))
  })
})
