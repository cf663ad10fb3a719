import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Option } from "effect"
import * as Backoff from "../src/Backoff.ts"

type Failure = { readonly retryable: boolean }
const retryable = (f: Failure) => f.retryable
const lost: Failure = { retryable: true }

const delays = (backoff: Backoff.Backoff<Failure>, n: number) =>
  Effect.gen(function*() {
    const out: Array<number> = []
    for (let i = 0; i < n; i++) out.push(Duration.toMillis(Option.getOrThrow(yield* backoff.next(lost))))
    return out
  })

describe("Backoff", () => {
  it.effect("starts near 250 ms, doubles with ±20% jitter, and is capped at 30 s", () =>
    Effect.gen(function*() {
      const backoff = yield* Backoff.make(Backoff.reconnectSchedule(retryable))
      const ds = yield* delays(backoff, 14)
      ds.forEach((d, i) => {
        const nominal = Math.min(250 * 2 ** i, 30_000)
        assert.isAtLeast(d, Math.min(nominal * 0.8, 30_000) - 1, `delay ${i}: ${d}`)
        assert.isAtMost(d, Math.min(nominal * 1.2, 30_000) + 1, `delay ${i}: ${d}`)
      })
      assert.strictEqual(ds.at(-1), 30_000)
    }))

  it.effect("starts over after reset (a successful CONNECT)", () =>
    Effect.gen(function*() {
      const backoff = yield* Backoff.make(Backoff.reconnectSchedule(retryable))
      yield* delays(backoff, 6)
      yield* backoff.reset
      const [first] = yield* delays(backoff, 1)
      assert.isAtMost(first!, 301)
      assert.isAtLeast(first!, 199)
    }))

  it.effect("does not retry what the input says is final (AUTH_FAILED on a password)", () =>
    Effect.gen(function*() {
      const backoff = yield* Backoff.make(Backoff.reconnectSchedule(retryable))
      yield* delays(backoff, 2)
      assert.isTrue(Option.isNone(yield* backoff.next({ retryable: false })))
    }))

  it.effect("honours custom base and cap", () =>
    Effect.gen(function*() {
      const backoff = yield* Backoff.make(Backoff.reconnectSchedule(retryable, { base: "10 millis", cap: "50 millis" }))
      const ds = yield* delays(backoff, 6)
      assert.isAtMost(ds[0]!, 12)
      assert.strictEqual(ds.at(-1), 50)
    }))
})
