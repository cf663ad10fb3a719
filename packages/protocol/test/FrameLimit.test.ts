import { assert, describe, it } from "@effect/vitest"
import { decodeCommand, decodeEvent, type FrameEvent, Framer, frames, MAX_FRAME_BYTES } from "@parley/protocol"
import { Chunk, Effect, Either, FastCheck as fc, Stream } from "effect"
import { concat, cut, cutting } from "./Arbitraries.ts"

const runs = { fastCheck: { numRuns: 1000 } }
const utf8 = new TextEncoder()
const LF = utf8.encode("\n")
const CRLF = utf8.encode("\r\n")
const PING = "{\"command\":\"PING\"}"
const ping = utf8.encode(PING + "\n")
const tooLarge: FrameEvent = { _tag: "TooLarge" }
const pingLine: FrameEvent = { _tag: "Line", text: PING }

/**
 * A PING command of exactly `n` bytes (n >= 30), padded with an ignored field
 * whose characters are 1, 2 and 4 bytes long, so the limit can fall inside one.
 */
const pingOf = (n: number, pad: ReadonlyArray<string>): string => {
  const head = "{\"command\":\"PING\",\"pad\":\""
  const tail = "\"}"
  let body = ""
  let size = head.length + tail.length
  for (const ch of pad) {
    const len = utf8.encode(ch).length
    if (size + len > n) break
    body += ch
    size += len
  }
  const line = head + body + "x".repeat(n - size) + tail
  assert.strictEqual(utf8.encode(line).length, n)
  return line
}

/** Feeds chunks, asserting the bound after every chunk and within every callback. */
const feedBounded = (framer: Framer, chunks: Iterable<Uint8Array>): Array<FrameEvent> => {
  const events: Array<FrameEvent> = []
  for (const chunk of chunks) {
    framer.push(chunk, (e) => {
      assert.isAtMost(framer.buffered, framer.maxFrameBytes)
      events.push(e)
    })
    assert.isAtMost(framer.buffered, framer.maxFrameBytes)
  }
  return events
}

/** The line after an oversized one is read and decoded as usual. */
const assertParses = (event: FrameEvent | undefined) => {
  assert.deepStrictEqual(event, pingLine)
  const decoded = decodeEvent(pingLine as Exclude<FrameEvent, { _tag: "TooLarge" }>)
  assert.isTrue(Either.isRight(decoded) && decoded.right.command === "PING")
}

describe("Framer: max_frame_bytes", () => {
  it.prop("an oversized line is held to the limit, reported once, and the next line parses [1,000 runs]", [
    fc.integer({ min: 20, max: 512 }).chain((max) =>
      fc.record({
        max: fc.constant(max),
        // the line's bytes, never a `\n`; a `\r` may fall anywhere, the limit's edge included
        line: fc.integer({ min: max + 1, max: 8 * max }).chain((n) =>
          fc.uint8Array({ minLength: n, maxLength: n }).map((b) => b.map((x) => (x === 10 ? 13 : x)))
        ),
        crlf: fc.boolean(),
        before: fc.array(fc.constantFrom("\n", "\r\n", " \n", PING + "\n"), { maxLength: 3 })
      })
    ),
    cutting
  ], ([{ before, crlf, line, max }, how]) => {
    const content = line.slice()
    // with `\n` alone, a last `\r` would be the terminator's and the line would fit by one byte
    if (!crlf && content[content.length - 1] === 13) content[content.length - 1] = 0x78
    const bytes = concat([utf8.encode(before.join("")), content, crlf ? CRLF : LF, ping])
    const events = feedBounded(new Framer(max), cut(bytes, how))
    const expectedBefore = before.filter((l) => l.startsWith("{")).map(() => pingLine)
    assert.deepStrictEqual(events.slice(0, expectedBefore.length), expectedBefore)
    assert.deepStrictEqual(events.slice(expectedBefore.length), [tooLarge, pingLine])
    assertParses(events.at(-1))
  }, runs)

  it.prop("a line up to the limit is one frame, with either terminator, however it is cut [1,000 runs]", [
    fc.integer({ min: 30, max: 512 }).chain((max) =>
      fc.record({
        max: fc.constant(max),
        n: fc.integer({ min: Math.max(30, max - 8), max }),
        pad: fc.array(fc.constantFrom("a", "é", "€", "😀"), { maxLength: 600 }),
        crlf: fc.boolean()
      })
    ),
    cutting
  ], ([{ crlf, max, n, pad }, how]) => {
    const line = pingOf(n, pad)
    const bytes = concat([utf8.encode(line), crlf ? CRLF : LF, ping])
    const events = feedBounded(new Framer(max), cut(bytes, how))
    assert.deepStrictEqual(events, [{ _tag: "Line", text: line }, pingLine])
    assert.isTrue(Either.isRight(decodeCommand(line)))
  }, runs)

  describe("at the default limit", () => {
    const max = MAX_FRAME_BYTES
    const exact = utf8.encode(pingOf(max, []))
    const over = utf8.encode(pingOf(max + 1, []))

    it("is 65536 bytes", () => {
      assert.strictEqual(new Framer().maxFrameBytes, 65536)
    })

    it("accepts a line of exactly max bytes ended by \\n", () => {
      assert.deepStrictEqual(new Framer().feed(concat([exact, LF])), [{ _tag: "Line", text: pingOf(max, []) }])
    })

    it("accepts a line of exactly max bytes ended by \\r\\n", () => {
      assert.deepStrictEqual(new Framer().feed(concat([exact, CRLF])), [{ _tag: "Line", text: pingOf(max, []) }])
    })

    it("rejects a line of max + 1 bytes once, with either terminator, and reads the next line", () => {
      for (const end of [LF, CRLF]) {
        const framer = new Framer()
        const events = feedBounded(framer, [concat([over, end, ping])])
        assert.deepStrictEqual(events, [tooLarge, pingLine])
        assert.strictEqual(framer.buffered, 0)
      }
    })

    it("rejects max bytes plus a `\\r` that is content, not a terminator", () => {
      const events = feedBounded(new Framer(), [concat([exact, utf8.encode("\r \n"), ping])])
      assert.deepStrictEqual(events, [tooLarge, pingLine])
    })

    it("accepts max bytes when \\r\\n is split at the limit, in every way", () => {
      const text = pingOf(max, [])
      const splits: Array<Array<Uint8Array>> = [
        [concat([exact, utf8.encode("\r")]), concat([LF, ping])],
        [exact, utf8.encode("\r"), concat([LF, ping])],
        [exact, concat([CRLF, ping])],
        [exact.slice(0, max - 1), concat([exact.slice(max - 1), utf8.encode("\r")]), LF, ping],
        [exact.slice(0, max - 1), concat([exact.slice(max - 1), CRLF, ping])]
      ]
      for (const chunks of splits) {
        const framer = new Framer()
        const events = feedBounded(framer, chunks)
        assert.deepStrictEqual(events, [{ _tag: "Line", text }, pingLine])
        assert.strictEqual(framer.buffered, 0)
      }
    })

    it("rejects max bytes and a `\\r` followed by more bytes, split at the limit", () => {
      const splits: Array<Array<Uint8Array>> = [
        [concat([exact, utf8.encode("\r")]), utf8.encode("x\n"), ping],
        [exact, utf8.encode("\r"), utf8.encode("x"), utf8.encode("\n"), ping],
        [exact, utf8.encode("\r"), utf8.encode("\r"), concat([LF, ping])]
      ]
      for (const chunks of splits) {
        assert.deepStrictEqual(feedBounded(new Framer(), chunks), [tooLarge, pingLine])
      }
    })

    it("reports an oversized line split over many chunks once, as soon as it is too long", () => {
      const framer = new Framer()
      const events: Array<FrameEvent> = []
      const chunk = new Uint8Array(1000).fill(0x78)
      chunk[999] = 13 // a `\r` at the end of every chunk must not confuse the limit
      let reportedAt = -1
      for (let i = 0; i < 300; i++) {
        events.push(...feedBounded(framer, [chunk]))
        if (reportedAt === -1 && events.length > 0) reportedAt = (i + 1) * 1000
      }
      // known too long once max + 2 bytes are in, so by the chunk that carries byte max + 2
      assert.strictEqual(reportedAt, Math.ceil((max + 2) / 1000) * 1000)
      events.push(...feedBounded(framer, [concat([CRLF, ping])]))
      assert.deepStrictEqual(events, [tooLarge, pingLine])
    })

    it("stays bounded through a multi-megabyte line without a newline", () => {
      const framer = new Framer()
      const chunk = new Uint8Array(64 * 1024).fill(0x61)
      const events: Array<FrameEvent> = []
      for (let i = 0; i < 128; i++) events.push(...feedBounded(framer, [chunk])) // 8 MiB
      assert.deepStrictEqual(events, [tooLarge])
      assert.isAtMost(framer.buffered, max)
      const after = feedBounded(framer, [concat([LF, ping])])
      assert.deepStrictEqual(after, [pingLine])
      assertParses(after[0])
    })

    it.effect("stays bounded in the frames combinator through a multi-megabyte line", () =>
      Effect.gen(function*() {
        const events = yield* Stream.repeatValue(new Uint8Array(64 * 1024).fill(0x61)).pipe(
          Stream.take(128),
          Stream.concat(Stream.make(concat([LF, ping]))),
          frames(),
          Stream.runCollect
        )
        assert.deepStrictEqual(Chunk.toReadonlyArray(events), [tooLarge, pingLine])
      }))
  })
})
