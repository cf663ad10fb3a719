import { assert, describe, it } from "@effect/vitest"
import { formatNumber, renderTable, toRow } from "../src/Report.ts"

describe("toRow", () => {
  it("sets the ratio to the baseline and judges a ratio target", () => {
    const row = toRow({
      scenario: "fan-out",
      metric: "deliveries per server CPU-s",
      unit: "/cpu-s",
      values: { parley: 300, baseline: 150 },
      target: { kind: "ratioAtLeast", value: 1.5 }
    })
    assert.strictEqual(row.ratio, 2)
    assert.isTrue(row.met)
  })

  it("judges absolute targets on the subject's figure", () => {
    const base = { scenario: "latency", metric: "p99", unit: "ms", values: { parley: 12, baseline: 2 } }
    assert.isFalse(toRow({ ...base, target: { kind: "atMost", value: 10 } }).met)
    assert.isTrue(toRow({ ...base, target: { kind: "atLeast", value: 10 } }).met)
  })

  it("has no ratio or verdict without figures", () => {
    const row = toRow({
      scenario: "x",
      metric: "y",
      unit: "/s",
      values: { parley: undefined },
      target: { kind: "ratioAtLeast", value: 1.5 }
    })
    assert.isUndefined(row.ratio)
    assert.isUndefined(row.met)
  })

  it("takes an external target as the subject", () => {
    assert.strictEqual(toRow({ scenario: "x", metric: "y", unit: "/s", values: { target: 4, baseline: 2 } }).ratio, 2)
  })
})

describe("renderTable", () => {
  it("prints every figure with its ratio and the notes", () => {
    const text = renderTable(
      [toRow({
        scenario: "durable",
        metric: "ACKs",
        unit: "/s",
        values: { parley: 25_000, baseline: 50_000 },
        note: "n"
      })],
      ["parley"]
    )
    assert.include(text, "25,000")
    assert.include(text, "0.50×")
    assert.include(text, "* durable / ACKs: n")
  })

  it("puts several servers under test side by side, each with its ratio and verdict", () => {
    const subjects = ["parley", "parley-pg"]
    const rows = [
      toRow(
        {
          scenario: "durable",
          metric: "ACKs",
          unit: "/s",
          values: { baseline: 50_000, parley: 25_000, "parley-pg": 10_000 },
          target: { kind: "atLeast", value: 20_000 }
        },
        subjects
      ),
      toRow({ scenario: "durable", metric: "ACK p99", unit: "ms", values: { baseline: 2, parley: 4 } }, subjects)
    ]
    assert.deepStrictEqual(rows[0]!.subjects.map((s) => [s.server, s.ratio, s.met]), [
      ["parley", 0.5, true],
      ["parley-pg", 0.2, false]
    ])
    assert.strictEqual(rows[0]!.subject, 25_000)
    const [header, , first, second] = renderTable(rows, subjects).split("\n")
    assert.match(header!, /parley\s+parley-pg\s+baseline\s+parley ratio\s+parley-pg ratio\s+target\s+met/)
    assert.match(first!, /25,000\s+10,000\s+50,000\s+0\.50×\s+0\.20×\s+≥ 20,000 \/s\s+yes \/ NO$/)
    // a server with no figure for a metric gets a dash
    assert.match(second!, /4\.00\s+—\s+2\.00\s+2\.00×\s+—$/)
  })

  it("formats numbers to a readable precision", () => {
    assert.strictEqual(formatNumber(1234.5), "1,235")
    assert.strictEqual(formatNumber(12.34), "12.3")
    assert.strictEqual(formatNumber(1.234), "1.23")
    assert.strictEqual(formatNumber(NaN), "—")
  })
})
