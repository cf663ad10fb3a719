/**
 * The cluster feed's own rules, against a model: whatever order notices
 * arrive in, whichever of them are lost, and whichever ids a rolled-back
 * batch burned, every committed message is delivered once, in id order, and
 * nothing is delivered before everything below it has been.
 */
import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { Feed, type FeedEntry } from "../src/Feed.ts"

interface Harness {
  readonly feed: Feed<string>
  readonly delivered: Array<number>
  /** Moves the clock to the scheduled timer's time and runs it, if any; true when there was one. */
  readonly fireTimer: () => boolean
  /** Moves the clock on by `ms`. */
  readonly advance: (ms: number) => void
  /** When the scheduled timer is due, if one is. */
  readonly timerAt: () => number | undefined
  /** Fails the pending repair read, as a database outage would; true when there was one. */
  readonly failRepair: () => boolean
  /** Answers the pending repair read from `committed`; true when there was one. */
  readonly answerRepair: () => boolean
}

const harness = (committed: ReadonlySet<number>, start = 0): Harness => {
  const delivered: Array<number> = []
  let timer: { at: number; run: () => void } | undefined
  let repair: { after: number; upTo: number } | undefined
  let now = 0
  const feed: Feed<string> = new Feed<string>({
    delivered: start,
    deliver: (e) => delivered.push(e.id),
    repair: (after, upTo) => {
      repair = { after, upTo }
    },
    schedule: (ms, onTimer) => {
      timer = { at: now + ms, run: onTimer }
    },
    now: () => now,
    gapWaitMs: 25
  })
  return {
    feed,
    delivered,
    fireTimer: () => {
      const t = timer
      timer = undefined
      if (t === undefined) return false
      now = Math.max(now, t.at)
      t.run()
      return true
    },
    advance: (ms) => {
      now += ms
    },
    timerAt: () => timer?.at,
    failRepair: () => {
      if (repair === undefined) return false
      repair = undefined
      feed.repairFailed()
      return true
    },
    answerRepair: () => {
      const r = repair
      if (r === undefined) return false
      repair = undefined
      const rows: Array<FeedEntry<string>> = []
      for (let id = r.after + 1; id <= r.upTo; id++) if (committed.has(id)) rows.push({ id, item: `m${id}` })
      feed.repaired(r.upTo, rows, true)
      return true
    }
  }
}

const entries = (ids: ReadonlyArray<number>): Array<FeedEntry<string>> => ids.map((id) => ({ id, item: `m${id}` }))

/** Fires timers and answers repairs until the feed is still. */
const settle = (h: Harness): void => {
  for (let i = 0; i < 1000 && (h.fireTimer() || h.answerRepair()); i++) {
    // bounded: each round delivers or repairs something
  }
}

describe("Feed", () => {
  it("delivers in order what arrives out of order, without waiting for the database", () => {
    const h = harness(new Set([1, 2, 3, 4]))
    h.feed.offer(entries([3, 4]))
    expect(h.delivered).toEqual([])
    h.feed.offer(entries([1, 2]))
    expect(h.delivered).toEqual([1, 2, 3, 4])
    expect(h.answerRepair()).toBe(false)
  })

  it("repairs a gap no notice fills from the database, and skips an id that never committed", () => {
    // 2 was lost on the bus; 3 was drawn by a batch that rolled back
    const h = harness(new Set([1, 2, 4, 5]))
    h.feed.offer(entries([1, 4, 5]))
    expect(h.delivered).toEqual([1])
    expect(h.fireTimer()).toBe(true)
    expect(h.answerRepair()).toBe(true)
    expect(h.delivered).toEqual([1, 2, 4, 5])
    expect(h.feed.delivered).toBe(5)
  })

  it("finds messages no notice announced from the newest id", () => {
    const h = harness(new Set([11, 12]), 10)
    h.feed.tail(12)
    settle(h)
    expect(h.delivered).toEqual([11, 12])
    h.feed.tail(12)
    expect(h.fireTimer()).toBe(false)
  })

  it("ignores what it already delivered (a duplicate notice, a repair racing a late notice)", () => {
    const h = harness(new Set([1, 2, 3]))
    h.feed.offer(entries([2, 3]))
    h.fireTimer()
    h.feed.offer(entries([1])) // the late notice, while the read is out
    h.answerRepair() // the read brings 1, 2, 3 again
    h.feed.offer(entries([1, 2, 3]))
    expect(h.delivered).toEqual([1, 2, 3])
  })

  it("reads the database for a gap once it has held delivery for the wait, dated from when it opened", () => {
    const h = harness(new Set([1, 2, 3, 4]))
    h.feed.offer(entries([2])) // t=0: 1 on its way, the wait starts
    h.advance(10)
    h.feed.offer(entries([1])) // t=10: it came; delivery moved on
    h.feed.offer(entries([4])) // t=10: 3 on its way, a new gap opened during the first one's wait
    expect(h.fireTimer()).toBe(true) // t=25: the new gap is 15 ms old
    expect(h.answerRepair()).toBe(false)
    expect(h.delivered).toEqual([1, 2])
    expect(h.fireTimer()).toBe(true) // t=35: 25 ms old, still open: read
    expect(h.answerRepair()).toBe(true)
    expect(h.delivered).toEqual([1, 2, 3, 4])
    expect(h.fireTimer()).toBe(false)
  })

  it("waits a whole wait again after a failed read, not at once", () => {
    const h = harness(new Set([1, 2]))
    h.feed.offer(entries([2]))
    expect(h.fireTimer()).toBe(true) // t=25: read
    expect(h.failRepair()).toBe(true)
    expect(h.timerAt()).toBe(50)
    expect(h.fireTimer()).toBe(true)
    expect(h.answerRepair()).toBe(true)
    expect(h.delivered).toEqual([1, 2])
  })

  it("tries a failed repair again", () => {
    const h = harness(new Set([1, 2]))
    h.feed.offer(entries([2]))
    h.fireTimer()
    h.feed.repairFailed()
    expect(h.delivered).toEqual([])
    settle(h)
    expect(h.delivered).toEqual([1, 2])
  })

  it.prop(
    "any arrival order, any lost notices, any burned ids: each committed id once, in order",
    [
      fc.array(fc.boolean(), { minLength: 1, maxLength: 60 }).chain((burned) =>
        fc.record({
          burned: fc.constant(burned),
          order: fc.shuffledSubarray([...burned.keys()], { minLength: 0, maxLength: burned.length }),
          tails: fc.array(fc.nat(burned.length), { maxLength: 5 })
        })
      )
    ],
    ([{ burned, order, tails }]) => {
      const committed = new Set(burned.flatMap((b, i) => (b ? [] : [i + 1])))
      const h = harness(committed)
      // notices arrive for a subset of committed ids, in any order, with the tail read in between
      for (const [step, index] of order.entries()) {
        const id = index + 1
        if (committed.has(id)) h.feed.offer(entries([id]))
        if (tails[step] !== undefined) h.feed.tail(Math.max(0, ...[...committed].filter((c) => c <= tails[step]!)))
        expect(isSortedUnique(h.delivered)).toBe(true)
      }
      h.feed.tail(Math.max(0, ...committed))
      settle(h)
      expect(h.delivered).toEqual([...committed].sort((a, b) => a - b))
    }
  )
})

const isSortedUnique = (ids: ReadonlyArray<number>): boolean => ids.every((id, i) => i === 0 || id > ids[i - 1]!)
