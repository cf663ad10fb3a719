import { assert, describe, it } from "@effect/vitest"
import { growth, judgeGrowth } from "../src/Soak.ts"

const MiB = 2 ** 20

describe("soak verdict", () => {
  it("growth is the share by which the end exceeds the start", () => {
    assert.strictEqual(growth(100, 110), 0.1)
    assert.strictEqual(growth(200, 150), -0.25)
    assert.strictEqual(growth(0, 5), 0)
  })

  it("fails past the limit on RSS or on descriptors, each named; at the limit or shrinking passes", () => {
    const start = { rssBytes: 200 * MiB, fds: 40 }
    assert.deepStrictEqual(judgeGrowth(start, { rssBytes: 220 * MiB, fds: 44 }, 0.1), [])
    assert.deepStrictEqual(judgeGrowth(start, { rssBytes: 150 * MiB, fds: 30 }, 0.1), [])
    assert.deepStrictEqual(judgeGrowth(start, { rssBytes: 221 * MiB, fds: 40 }, 0.1), ["RSS grew 10.5 % (limit 10 %)"])
    assert.deepStrictEqual(judgeGrowth(start, { rssBytes: 200 * MiB, fds: 48 }, 0.1), ["open descriptors grew 20.0 % (limit 10 %)"])
  })
})
