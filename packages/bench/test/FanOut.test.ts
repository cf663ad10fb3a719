import { assert, describe, it } from "@effect/vitest"
import { portFor } from "../src/Client.ts"
import {
  efficiency,
  equalRateRatio,
  fanOutFigures,
  type FanOutOptions,
  type FanOutRun,
  pooledRun
} from "../src/FanOut.ts"

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

describe("a cluster beside one node (--nodes)", () => {
  const opts: FanOutOptions = {
    receivers: 100,
    senders: 10,
    stepMs: 1000,
    drainMs: 500,
    textBytes: 64,
    maxP99Ms: 50,
    refineSteps: 2,
    retries: 1,
    startRate: undefined,
    maxRate: 10_000,
    latencySeconds: 5,
    kneeWarmupSeconds: 2,
    warmupSeconds: 1
  }
  const run = (server: string, deliveriesPerCpuSec: number): FanOutRun => ({
    server,
    knee: 100,
    kneeStep: undefined,
    steps: [],
    deliveriesPerCpuSec
  })

  it("shows the cluster's deliveries per CPU-s as a share of one node's on the same backend, against 0.7", () => {
    const figures = fanOutFigures(
      [run("baseline", 90_000), run("parley-pg", 50_000), run("parley-pg x2", 40_000)],
      opts
    )
    const share = figures.find((f) => f.metric === "deliveries per server CPU-s, cluster / one node")
    assert.deepStrictEqual(share?.values, { "parley-pg x2": 0.8 })
    assert.deepStrictEqual(share?.target, { kind: "atLeast", value: 0.7 })
  })

  it("compares what a delivery costs at the rates both passed, wherever each knee landed", () => {
    const at = (rate: number, pass: boolean, delivered: number, serverCpuSec: number) => ({
      rate,
      pass,
      delivered,
      serverCpuSec
    })
    // one node: 1,000 deliveries per CPU-s at rate 100, 4,000 at 400 (and 8,000 at 800, which the cluster failed)
    const one = [at(100, true, 1000, 1), at(400, true, 4000, 1), at(800, true, 8000, 1), at(400, true, 4000, 1)]
    // the cluster: half as efficient at 100, as efficient at 400; 800 failed; 1,600 never tried by one node
    const cluster = [at(100, true, 500, 1), at(400, true, 4000, 1), at(800, false, 9000, 1), at(1600, true, 1, 1)]
    // one node's CPU at 100 and 400: 1 + 2; the cluster's for the same deliveries: 1000/500 + 8000/4000
    assert.strictEqual(equalRateRatio(cluster, one), 3 / 4)
    assert.isUndefined(equalRateRatio([at(100, false, 1, 1)], one))
    assert.isUndefined(equalRateRatio(cluster, [at(100, true, 1, Number.NaN)]))
  })

  it("shows the equal-rate figure beside the pooled one, with no target of its own", () => {
    const withSteps = (server: string, steps: FanOutRun["steps"]): FanOutRun => ({
      ...run(server, efficiency(steps)),
      steps
    })
    const step = (rate: number, delivered: number) =>
      ({ rate, pass: true, lost: 0, delivered, serverCpuSec: 1 }) as unknown as FanOutRun["steps"][number]
    const figures = fanOutFigures(
      [withSteps("parley-pg", [step(100, 1000), step(200, 3000)]), withSteps("parley-pg x2", [step(100, 800)])],
      opts
    )
    const equal = figures.find((f) => f.metric === "deliveries per server CPU-s at equal rates, cluster / one node")
    assert.deepStrictEqual(equal?.values, { "parley-pg x2": 0.8 })
    assert.isUndefined(equal?.target)
  })

  it("has no such figure without a cluster", () => {
    const figures = fanOutFigures([run("baseline", 90_000), run("parley-pg", 50_000)], opts)
    assert.isUndefined(figures.find((f) => f.metric.includes("cluster")))
  })

  it("spreads clients over the nodes by their number", () => {
    const endpoint = { host: "127.0.0.1", port: 7001, ports: [7001, 7002] }
    assert.deepStrictEqual([0, 1, 2, 3, -1].map((i) => portFor(endpoint, i)), [7001, 7002, 7001, 7002, 7002])
    assert.strictEqual(portFor({ host: "127.0.0.1", port: 7001 }, 5), 7001)
  })
})

describe("fan-out pooled over rounds (--rounds)", () => {
  const step = (rate: number, pass: boolean, delivered: number, serverCpuSec: number) =>
    ({ rate, pass, lost: 0, delivered, serverCpuSec, deliveriesPerSec: delivered }) as unknown as FanOutRun["steps"][
      number
    ]
  const round = (knee: number, steps: FanOutRun["steps"]): FanOutRun => ({
    server: "parley-pg x2",
    knee,
    kneeStep: steps.find((s) => s.rate === knee),
    steps,
    deliveriesPerCpuSec: efficiency(steps)
  })

  it("pools every passing step of every round and takes the median round's knee", () => {
    const rounds = [
      round(1000, [step(500, true, 100, 1), step(1000, true, 300, 1), step(2000, false, 900, 1)]),
      round(4000, [step(2000, true, 600, 1), step(4000, true, 1000, 1)]),
      round(2000, [step(2000, true, 500, 2)])
    ]
    const pooled = pooledRun(rounds)
    assert.strictEqual(pooled.knee, 2000)
    assert.strictEqual(pooled.kneeStep?.rate, 2000)
    assert.strictEqual(pooled.steps.length, 6)
    // (100 + 300 + 600 + 1000 + 500) / (1 + 1 + 1 + 1 + 2): the failing step is left out
    assert.strictEqual(pooled.deliveriesPerCpuSec, 2500 / 6)
  })

  it("says on every figure that it is pooled", () => {
    const opts = { receivers: 100, senders: 10 } as FanOutOptions
    const runs = [{ ...pooledRun([round(1000, [step(1000, true, 100, 1)])]), server: "parley" }]
    for (const figure of fanOutFigures(runs, opts, 3)) assert.include(figure.note ?? "", "3 rounds pooled")
    for (const figure of fanOutFigures(runs, opts)) assert.notInclude(figure.note ?? "", "pooled")
  })
})
