import { assert, describe, it } from "@effect/vitest"
import { decodeEvent, type FrameEvent, Framer, frames } from "@parley/protocol"
import { Chunk, Effect, Either, Exit, FastCheck as fc, Stream } from "effect"
import { byteStream, cut, cutting, noisyBytes } from "./Arbitraries.ts"
import { frameWhole } from "./LineModel.ts"

const runs = { fastCheck: { numRuns: 1000 } }
const utf8 = new TextEncoder()

/** A stream and the limit of the framer that reads it. */
const limitedStream = fc.integer({ min: 1, max: 256 }).chain((max) => byteStream(max).map((bytes) => ({ max, bytes })))

/**
 * Feeds chunks one by one, checking after every chunk (and inside every
 * callback) that the framer holds no more than its limit. Each chunk is
 * scribbled over once pushed: what the framer keeps, it must have copied.
 */
const feedAll = (framer: Framer, chunks: ReadonlyArray<Uint8Array>): Array<FrameEvent> => {
  const events: Array<FrameEvent> = []
  for (const chunk of chunks) {
    const copy = chunk.slice()
    framer.push(copy, (e) => {
      assert.isAtMost(framer.buffered, framer.maxFrameBytes)
      events.push(e)
    })
    assert.isAtMost(framer.buffered, framer.maxFrameBytes)
    copy.fill(0x41)
  }
  return events
}

describe("Framer: chunking", () => {
  it.prop("any chunking yields the events of the whole stream, which follow the framing rules [1,000 runs]", [
    limitedStream,
    cutting
  ], ([{ bytes, max }, how]) => {
    const whole = new Framer(max).feed(bytes)
    assert.deepStrictEqual(whole, frameWhole(bytes, max))
    assert.deepStrictEqual(feedAll(new Framer(max), cut(bytes, how)), whole)
  }, runs)

  // it.live: no clock is involved, and building the test services for each of 1,000 runs costs more than the runs
  it.live.prop("the frames combinator yields the events of the whole stream, however it is chunked", [
    limitedStream,
    cutting,
    fc.integer({ min: 1, max: 8 })
  ], ([{ bytes, max }, how, perChunk]) =>
    Effect.gen(function*() {
      const events = yield* Stream.fromIterable(cut(bytes, how)).pipe(
        Stream.rechunk(perChunk),
        frames(max),
        Stream.runCollect
      )
      assert.deepStrictEqual(Chunk.toReadonlyArray(events), new Framer(max).feed(bytes))
    }), runs)

  it("decodes a character split across chunks", () => {
    const framer = new Framer()
    const bytes = utf8.encode("{\"command\":\"MSG\",\"text\":\"é😀\"}\n")
    const events = [...bytes].flatMap((b) => framer.feed(Uint8Array.of(b)))
    assert.deepStrictEqual(events, [{ _tag: "Line", text: "{\"command\":\"MSG\",\"text\":\"é😀\"}" }])
  })

  it("reads several frames from one chunk, in order, with either terminator", () => {
    const events = new Framer().feed(utf8.encode("{\"command\":\"PING\"}\r\n\n  \r\n{\"command\":\"USERS\"}\n{\"x\""))
    assert.deepStrictEqual(events, [
      { _tag: "Line", text: "{\"command\":\"PING\"}" },
      { _tag: "Line", text: "{\"command\":\"USERS\"}" }
    ])
  })

  it("skips blank and whitespace-only lines", () => {
    const events = new Framer().feed(utf8.encode("\n\r\n   \n\t \r\n\u00a0\u3000\n \r \n"))
    assert.deepStrictEqual(events, [])
  })

  it("reports a line that is not UTF-8 as Malformed and reads the next line", () => {
    const framer = new Framer()
    const events = [
      ...framer.feed(Uint8Array.of(0x7b, 0xc3, 0x28, 0x7d, 0x0a)),
      ...framer.feed(Uint8Array.of(0xe2, 0x82)), // a character cut short by its line's end
      ...framer.feed(utf8.encode("\n{\"command\":\"PING\"}\n"))
    ]
    assert.deepStrictEqual(events, [
      { _tag: "Malformed" },
      { _tag: "Malformed" },
      { _tag: "Line", text: "{\"command\":\"PING\"}" }
    ])
  })

  it.effect("frames gives each run of a stream a fresh framer", () =>
    Effect.gen(function*() {
      // the first run ends inside a line: a shared framer would glue it to the second run's first line
      const stream = Stream.make(utf8.encode("{\"command\":\"PING\"}\n{\"comm")).pipe(frames())
      const first = yield* Stream.runCollect(stream)
      const second = yield* Stream.runCollect(stream)
      assert.deepStrictEqual(Chunk.toReadonlyArray(second), Chunk.toReadonlyArray(first))
      assert.deepStrictEqual(Chunk.toReadonlyArray(first), [{ _tag: "Line", text: "{\"command\":\"PING\"}" }])
    }))

  it.effect("frames passes the upstream error through, after the frames before it", () =>
    Effect.gen(function*() {
      const seen: Array<FrameEvent> = []
      const exit = yield* Stream.make(utf8.encode("{\"command\":\"PING\"}\n")).pipe(
        Stream.concat(Stream.fail("socket closed" as const)),
        frames(),
        Stream.runForEach((e) => Effect.sync(() => seen.push(e))),
        Effect.exit
      )
      assert.deepStrictEqual(exit, Exit.fail("socket closed" as const))
      assert.deepStrictEqual(seen, [{ _tag: "Line", text: "{\"command\":\"PING\"}" }])
    }))
})

describe("Framer: arbitrary bytes", () => {
  const typedOutcome = (event: FrameEvent) => {
    switch (event._tag) {
      case "TooLarge":
        return
      case "Line": {
        assert.isFalse(event.text.includes("\n"))
        assert.isTrue(/\S/.test(event.text))
        break
      }
      case "Malformed":
        break
      default:
        assert.fail(`not a frame event: ${JSON.stringify(event)}`)
    }
    const decoded = decodeEvent(event)
    if (Either.isLeft(decoded)) {
      assert.include(["InvalidJson", "InvalidCommand", "UnknownCommand"], decoded.left.error._tag)
      if (event._tag === "Malformed") assert.strictEqual(decoded.left.error._tag, "InvalidJson")
    }
  }

  it.prop("never throw: every chunk gives frame events, every event a command or a typed error [1,000 runs]", [
    fc.array(noisyBytes, { maxLength: 8 }),
    fc.integer({ min: 1, max: 128 })
  ], ([chunks, max]) => {
    const framer = new Framer(max)
    for (const event of feedAll(framer, chunks)) typedOutcome(event)
  }, runs)

  it.live.prop(
    "never fail or die in the frames combinator",
    [fc.array(noisyBytes, { maxLength: 8 })],
    ([chunks]) =>
      Effect.gen(function*() {
        const exit = yield* Stream.fromIterable(chunks).pipe(frames(64), Stream.runCollect, Effect.exit)
        assert.isTrue(Exit.isSuccess(exit))
        if (Exit.isSuccess(exit)) Chunk.forEach(exit.value, typedOutcome)
      }),
    runs
  )
})
