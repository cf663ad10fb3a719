import { assert, describe, it } from "@effect/vitest"
import { FastCheck as fc } from "effect"
import { SeenMessages } from "../src/SeenMessages.ts"

describe("SeenMessages", () => {
  it.prop(
    "whatever arrives, in any order and as often as it likes, each id is handed out once and the cursor is the highest",
    [fc.array(fc.nat({ max: 500 }), { maxLength: 300 }), fc.array(fc.nat({ max: 500 }), { maxLength: 50 })],
    ([delivered, acked]) => {
      const seen = new SeenMessages()
      const out: Array<number> = []
      const events = [...delivered.map((id) => ({ id, own: false })), ...acked.map((id) => ({ id, own: true }))]
      events.sort((a, b) => ((a.id * 7919 + (a.own ? 1 : 0)) % 13) - ((b.id * 7919 + (b.own ? 1 : 0)) % 13))
      for (const e of events) {
        const fresh = e.own ? seen.acknowledge(e.id) : seen.deliver({ message_id: e.id })
        if (fresh) out.push(e.id)
      }
      assert.strictEqual(new Set(out).size, out.length)
      assert.sameMembers(out, [...new Set([...delivered, ...acked])])
      // only what the server delivered moves the cursor, never our own ACKs
      assert.strictEqual(seen.cursor, delivered.length === 0 ? undefined : Math.max(...delivered))
    }
  )

  it("forgets the oldest ids past its capacity, and never moves the cursor back", () => {
    const seen = new SeenMessages(100)
    for (let id = 1; id <= 150; id++) seen.deliver({ message_id: id })
    assert.isTrue(seen.has(150))
    assert.isFalse(seen.has(1))
    seen.advance(10)
    assert.strictEqual(seen.cursor, 150)
  })
})
