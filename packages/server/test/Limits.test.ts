/**
 * The limits HELLO announces are the limits in force, when an embedder sets
 * them smaller than protocol v1's defaults (no flag reaches them, so this
 * runs in-process).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { launchServer } from "./support/InProcessServer.ts"
import { ids, sayAll, signUp, type Wire } from "./support/Wire.ts"

const assertStaysOpen = (wire: Wire) =>
  Effect.gen(function*() {
    const before = yield* wire.sync()
    assert.deepStrictEqual(before, [], "nothing unasked for before the PONG")
  })

describe.concurrent("limits", () => {
  it.scopedLive("HELLO reports the limits actually in force (in-process, smaller limits)", () =>
    Effect.gen(function*() {
      const server = yield* launchServer({ maxFrameBytes: 1000, maxTextChars: 100 })
      const { wire } = yield* signUp(server.port, "alice")
      assert.deepStrictEqual(wire.hello.limits, { max_frame_bytes: 1000, max_text_chars: 100 })
      const ok = yield* wire.request({ command: "MSG", text: "é".repeat(100) }, "ACK")
      assert.isTrue(Number.isInteger(ok.message_id))
      yield* wire.send({ command: "MSG", text: "x".repeat(101) })
      assert.match(String((yield* wire.expectError("INVALID_COMMAND")).message), /text/)
      const pad = (size: number) => JSON.stringify({ command: "PING", id: "y".repeat(size - 26) })
      assert.strictEqual(pad(1000).length, 1000)
      yield* wire.write(pad(1000) + "\n")
      yield* wire.expect("PONG")
      yield* wire.write(pad(1001) + "\n")
      yield* wire.expectError("FRAME_TOO_LARGE")
      yield* assertStaysOpen(wire)
    }))

  it.scopedLive("a client slowed by flood control past the idle timeout is not dropped: everything it sent is stored", () =>
    Effect.gen(function*() {
      // 2 at once, then 4 per second: the last of 12 waits ~2.5 s, the idle timeout is 1 s
      const server = yield* launchServer({ msgRate: 4, msgBurst: 2, idleTimeoutSeconds: 1 })
      const { wire } = yield* signUp(server.port, "alice")
      const texts = Array.from({ length: 12 }, (_, i) => `slowed ${i}`)
      const acks = yield* sayAll(wire, texts)
      assert.strictEqual(acks.length, 12)
      const history = yield* wire.request({ command: "HISTORY", limit: 20 }, "HISTORY")
      assert.deepStrictEqual(ids(history), acks.map((a) => a.message_id as number))
    }))
})
