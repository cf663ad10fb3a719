import { assert, describe, it } from "@effect/vitest"
import { FastCheck } from "effect"
import { addressKey } from "../src/AddressKey.ts"
import { SlidingWindow } from "../src/SlidingWindow.ts"

describe("SlidingWindow", () => {
  it("allows `limit` events per key in any window, says when the next is allowed, and forgets on reset", () => {
    const w = new SlidingWindow(3, 60_000)
    for (const t of [0, 10, 20]) {
      assert.strictEqual(w.retryAfter("k", t), 0)
      w.record("k", t)
    }
    assert.strictEqual(w.retryAfter("k", 30), 59_970)
    assert.strictEqual(w.retryAfter("other", 30), 0)
    assert.strictEqual(w.retryAfter("k", 59_999), 1)
    assert.strictEqual(w.retryAfter("k", 60_000), 0)
    w.reset("k")
    assert.strictEqual(w.retryAfter("k", 30), 0)
  })

  it("0 turns it off", () => {
    const w = new SlidingWindow(0, 1000)
    for (let t = 0; t < 100; t++) w.record("k", 0)
    assert.strictEqual(w.retryAfter("k", 0), 0)
    assert.strictEqual(w.size, 0)
  })

  it.prop(
    "admitting whenever retryAfter is 0 never lets more than `limit` events into any window, and refuses only when `limit` are in it [1,000 runs]",
    [
      FastCheck.integer({ min: 1, max: 10 }),
      FastCheck.integer({ min: 1, max: 5000 }),
      FastCheck.array(FastCheck.integer({ min: 0, max: 2000 }), { maxLength: 200 })
    ],
    ([limit, windowMs, gaps]) => {
      const w = new SlidingWindow(limit, windowMs)
      const admitted: Array<number> = []
      let now = 0
      for (const gap of gaps) {
        now += gap
        const inWindow = admitted.filter((t) => t > now - windowMs).length
        const wait = w.retryAfter("k", now)
        assert.strictEqual(wait === 0, inWindow < limit)
        if (wait === 0) {
          w.record("k", now)
          admitted.push(now)
        } else {
          // the wait is exact: the oldest event in the window expires then (asked of a copy: time
          // only moves forward for the window under test)
          const copy = () => {
            const c = new SlidingWindow(limit, windowMs)
            for (const t of admitted) c.record("k", t)
            return c
          }
          if (wait > 1) assert.isAbove(copy().retryAfter("k", now + wait - 1), 0)
          assert.strictEqual(copy().retryAfter("k", now + wait), 0)
        }
      }
    },
    { fastCheck: { numRuns: 1000 } }
  )

  it("expired keys are swept: memory follows the keys active in the last window", () => {
    const w = new SlidingWindow(5, 1000)
    for (let i = 0; i < 5000; i++) w.record(`k${i}`, i)
    w.sweep(10_000)
    assert.strictEqual(w.size, 0)
  })
})

describe("addressKey", () => {
  it("IPv4 as it is, IPv4-mapped as IPv4, IPv6 by its /64", () => {
    assert.strictEqual(addressKey("127.0.0.2"), "127.0.0.2")
    assert.strictEqual(addressKey("::ffff:10.1.2.3"), "10.1.2.3")
    assert.strictEqual(addressKey("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64")
    assert.strictEqual(addressKey("2001:db8:1:2:bbbb:cccc:dddd:eeee"), "2001:db8:1:2::/64")
    assert.strictEqual(addressKey("2001:db8::1"), "2001:db8:0:0::/64")
    assert.strictEqual(addressKey("::1"), "0:0:0:0::/64")
    assert.strictEqual(addressKey("fe80::1%eth0"), "fe80:0:0:0::/64")
  })
})
