import { assert, describe, it } from "@effect/vitest"
import type { Message } from "@parley/protocol"
import { colorWanted, displayWidth, formatMessage, localTime, makeStyle, sanitize } from "../src/Style.ts"

const message = (m: Partial<Message>): Message => ({
  type: "MESSAGE",
  message_id: 1,
  from: "bob",
  to: null,
  text: "hi",
  timestamp: new Date().toISOString(),
  ...m
})
const plain = makeStyle(false)

describe("Style", () => {
  it("colour only on a terminal, and never with NO_COLOR set", () => {
    assert.isTrue(colorWanted({ isTTY: true }, {}))
    assert.isFalse(colorWanted({ isTTY: false }, {}))
    assert.isFalse(colorWanted({ isTTY: true }, { NO_COLOR: "1" }))
    assert.isFalse(colorWanted({ isTTY: true }, { TERM: "dumb" }))
  })

  it("text from the network cannot drive the terminal", () => {
    assert.strictEqual(sanitize("a\x1b[2Jb\x07c\u009bd"), "a\ufffd[2Jb\ufffdc\ufffdd")
    assert.strictEqual(sanitize("two\r\nlines\ttab"), "two\nlines\ttab")
  })

  it("own messages and DMs look different without colour", () => {
    const now = new Date()
    const time = localTime(now.toISOString(), now)
    assert.strictEqual(formatMessage(plain, message({ from: "bob" }), "alice", now), `${time} bob: hi`)
    assert.strictEqual(formatMessage(plain, message({ from: "Alice" }), "alice", now), `${time} you: hi`)
    assert.strictEqual(formatMessage(plain, message({ to: "alice" }), "alice", now), `${time} [DM] bob → you: hi`)
    assert.strictEqual(
      formatMessage(plain, message({ from: "alice", to: "bob" }), "alice", now),
      `${time} [DM] you → bob: hi`
    )
    assert.strictEqual(
      formatMessage(plain, message({ text: "one\ntwo" }), "alice", now),
      `${time} bob: one\n${" ".repeat(time.length + 6)}two`
    )
  })

  it("times are local, with the date when not today", () => {
    const now = new Date(2026, 10, 25, 12, 0)
    assert.strictEqual(localTime(new Date(2026, 10, 25, 9, 5).toISOString(), now), "09:05")
    assert.strictEqual(localTime(new Date(2026, 10, 24, 23, 59).toISOString(), now), "2026-11-24 23:59")
  })

  it("measures wide characters as two columns", () => {
    assert.strictEqual(displayWidth("abc"), 3)
    assert.strictEqual(displayWidth("日本"), 4)
    assert.strictEqual(displayWidth("e\u0301"), 1)
  })
})
