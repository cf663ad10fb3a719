/**
 * The page's state without a browser: messages land in the right conversation once, a pending
 * send stops counting once its message is shown (whichever of its ACK and its MESSAGE comes
 * first), and the banner counts down to the next attempt and counts what waits.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConnectionState } from "@parley/client/browser"
import { bannerOf } from "../src/Banner.ts"
import { dmKey, Model, roomKey } from "../src/Model.ts"

const message = (id: number, from: string, text: string, where: { room?: string; to?: string }) => ({
  type: "MESSAGE" as const,
  message_id: id,
  from,
  to: where.to ?? null,
  room: where.room ?? null,
  text,
  timestamp: "2026-12-07T15:00:00.000Z"
})

describe("the page's model", () => {
  it("files room messages by room and DMs by the other person, each id once", () => {
    const model = new Model()
    model.me = "alice"
    model.addMessage(message(1, "bob", "hi", { room: "general" }))
    model.addMessage(message(2, "bob", "psst", { to: "alice" }))
    model.addMessage(message(3, "alice", "psst back", { to: "Bob" }))
    assert.isFalse(model.addMessage(message(2, "bob", "psst", { to: "alice" })).isNew)
    assert.deepStrictEqual([...model.get(roomKey("general"))!.lines.keys()], [1])
    assert.deepStrictEqual([...model.get(dmKey("bob"))!.lines.keys()], [2, 3])
    assert.strictEqual(model.dms().length, 1)
  })

  it("a pending send stops waiting when its message is shown, before or after its ACK", () => {
    const model = new Model()
    model.me = "alice"
    const general = model.room("general")
    const first = model.addPending(general, "one")
    const second = model.addPending(general, "two")
    assert.strictEqual(model.waiting(), 2)
    // ACK first, then the MESSAGE
    first.messageId = 10
    assert.strictEqual(model.waiting(), 2)
    model.addMessage(message(10, "alice", "one", { room: "general" }))
    assert.strictEqual(model.waiting(), 1)
    // the MESSAGE first (the ACK's own event), then the ACK
    model.addMessage(message(11, "alice", "two", { room: "general" }))
    second.messageId = 11
    assert.strictEqual(model.waiting(), 0)
    assert.deepStrictEqual(Model.sorted(general).map((l) => l.text), ["one", "two"])
  })

  it("the banner counts down to the next attempt and says what waits", () => {
    const down = ConnectionState.Reconnecting({ attempt: 0, retryAt: 10_500, error: "lost the connection" })
    assert.deepStrictEqual(bannerOf(down, 1, 8_000), {
      text: "Connection lost: lost the connection. Reconnecting in 3 s (attempt 1). 1 message waiting to be sent.",
      down: true
    })
    assert.include(bannerOf(down, 0, 10_000)!.text, "Reconnecting in 1 s")
    assert.include(bannerOf(ConnectionState.Connecting({ attempt: 2 }), 2, 0)!.text, "2 messages waiting")
    assert.isUndefined(
      bannerOf(ConnectionState.Connected({ user: "alice", sessionId: 1, since: 0, via: "token" }), 3, 0)
    )
  })
})
