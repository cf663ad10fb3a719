import { assert, describe, it } from "@effect/vitest"
import type { Message } from "@parley/protocol"
import {
  colorWanted,
  daySeparator,
  displayWidth,
  fitWidth,
  formatMessage,
  formatPending,
  localTime,
  makeStyle,
  sanitize
} from "../src/Style.ts"

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

  it("a message not yet acknowledged is marked as such without colour, on one line", () => {
    assert.strictEqual(formatPending(makeStyle(false), "two\nlines", null), "⋯ you: two lines (not sent yet)")
    assert.strictEqual(formatPending(makeStyle(false), "psst", "bob"), "⋯ [DM] you → bob: psst (not sent yet)")
    assert.strictEqual(formatPending(makeStyle(true), "hi", null), "\x1b[2m⋯ you: hi (not sent yet)\x1b[22m")
  })

  it("a day separator comes before the first message of another day than the one shown before", () => {
    const plain = makeStyle(false)
    const now = new Date(2026, 11, 8, 0, 30) // Tuesday 8 December 2026, just after midnight
    const at = (...parts: [number, number, number, number, number]) => new Date(...parts).toISOString()
    const lastNight = at(2026, 11, 7, 23, 58)
    const justNow = at(2026, 11, 8, 0, 1)
    // the day turns between two messages shown in a row
    assert.strictEqual(daySeparator(plain, lastNight, justNow, now), "— Tuesday 8 December (today) —")
    assert.strictEqual(daySeparator(plain, justNow, at(2026, 11, 8, 0, 20), now), undefined)
    // the first message shown: only when it is not from today
    assert.strictEqual(daySeparator(plain, undefined, justNow, now), undefined)
    assert.strictEqual(daySeparator(plain, undefined, lastNight, now), "— Monday 7 December —")
    assert.strictEqual(daySeparator(plain, undefined, at(2025, 11, 31, 12, 0), now), "— Wednesday 31 December 2025 —")
    // and the message's own stamp carries the date when it is not today
    assert.strictEqual(localTime(lastNight, now), "2026-12-07 23:58")
    assert.strictEqual(localTime(justNow, now), "00:01")
  })

  it("times are local, with the date when not today", () => {
    const now = new Date(2026, 10, 25, 12, 0)
    assert.strictEqual(localTime(new Date(2026, 10, 25, 9, 5).toISOString(), now), "09:05")
    assert.strictEqual(localTime(new Date(2026, 10, 24, 23, 59).toISOString(), now), "2026-11-24 23:59")
  })

  it("measures wide characters as two columns, an emoji ZWJ sequence as one emoji", () => {
    assert.strictEqual(displayWidth("abc"), 3)
    assert.strictEqual(displayWidth("日本"), 4)
    assert.strictEqual(displayWidth("e\u0301"), 1)
    assert.strictEqual(displayWidth("👩‍💻"), 2)
    assert.strictEqual(displayWidth("\x1b[7m日本\x1b[27m"), 4)
  })

  it("cuts the status line to the terminal's width without splitting an emoji sequence or a wide character", () => {
    const status = " connected · alice @ 127.0.0.1:7777 · 👩‍💻👩‍💻 日本語のテキスト "
    for (const columns of [10, 20, 37, 38, 39, 40, 41, 60]) {
      const fitted = fitWidth(status, columns)
      assert.isAtMost(displayWidth(fitted), columns, fitted)
      assert.isTrue(status.startsWith(fitted.replace(/…$/, "")), fitted)
      assert.notInclude(fitted, "\u200d…", "a ZWJ sequence cut in two")
    }
    assert.strictEqual(fitWidth(" 👩‍💻 coding ", 80), " 👩‍💻 coding ")
    assert.strictEqual(fitWidth("ab👩‍💻cd", 4), "ab…")
    assert.strictEqual(fitWidth("ab👩‍💻cd", 5), "ab👩‍💻…")
    assert.strictEqual(fitWidth("日本語", 4), "日…")
    assert.strictEqual(fitWidth("\x1b[7m 日本語 \x1b[27m", 8), "\x1b[7m 日本語 \x1b[27m")
  })
})
