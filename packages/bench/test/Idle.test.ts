import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { settledRss } from "../src/Idle.ts"

describe("settledRss", () => {
  it.live("keeps the lowest reading over the whole watch, not the last one", () =>
    Effect.gen(function*() {
      const readings = [300, 280, 290, 150, 160, 170, 165]
      let i = 0
      const started = Date.now()
      const low = yield* settledRss(() => readings[Math.min(i++, readings.length - 1)]!, 1_600)
      assert.strictEqual(low, 150)
      // it watched for the time asked, reading every 250 ms
      assert.isAtLeast(Date.now() - started, 1_600)
      assert.isAtLeast(i, 6)
    }))

  it.live("with no time to watch, is the one reading it takes", () =>
    Effect.gen(function*() {
      let reads = 0
      const low = yield* settledRss(() => (reads++, 42), 0)
      assert.strictEqual(low, 42)
      assert.strictEqual(reads, 1)
    }))
})
