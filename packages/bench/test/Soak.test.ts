import { assert, describe, it } from "@effect/vitest"
import { gauge, growth, judgeGrowth } from "../src/Soak.ts"

const MiB = 2 ** 20

describe("soak verdict", () => {
  it("growth is the share by which the end exceeds the start", () => {
    assert.strictEqual(growth(100, 110), 0.1)
    assert.strictEqual(growth(200, 150), -0.25)
    assert.strictEqual(growth(0, 5), 0)
  })

  it("fails past the limit on RSS, heap or descriptors, each named; at the limit or shrinking passes", () => {
    const start = { rssBytes: 200 * MiB, heapBytes: 40 * MiB, fds: 40 }
    assert.deepStrictEqual(judgeGrowth(start, { rssBytes: 220 * MiB, heapBytes: 44 * MiB, fds: 44 }, 0.1), [])
    assert.deepStrictEqual(judgeGrowth(start, { rssBytes: 150 * MiB, heapBytes: 30 * MiB, fds: 30 }, 0.1), [])
    assert.deepStrictEqual(judgeGrowth(start, { rssBytes: 221 * MiB, heapBytes: 40 * MiB, fds: 40 }, 0.1), [
      "RSS grew 10.5 % (limit 10 %)"
    ])
    assert.deepStrictEqual(judgeGrowth(start, { rssBytes: 200 * MiB, heapBytes: 50 * MiB, fds: 40 }, 0.1), [
      "heap in use grew 25.0 % (limit 10 %)"
    ])
    assert.deepStrictEqual(judgeGrowth(start, { rssBytes: 200 * MiB, heapBytes: 40 * MiB, fds: 48 }, 0.1), [
      "open descriptors grew 20.0 % (limit 10 %)"
    ])
  })

  it("reads a gauge from Prometheus text, and names one that is missing", () => {
    const text =
      "# HELP nodejs_heap_size_used_bytes x\n# TYPE nodejs_heap_size_used_bytes gauge\nnodejs_heap_size_used_bytes 31457280\nnodejs_heap_size_total_bytes 4e7\n"
    assert.strictEqual(gauge(text, "nodejs_heap_size_used_bytes"), 31457280)
    assert.strictEqual(gauge(text, "nodejs_heap_size_total_bytes"), 4e7)
    assert.throws(() => gauge(text, "process_resident_memory_bytes"), /no process_resident_memory_bytes/)
  })
})
