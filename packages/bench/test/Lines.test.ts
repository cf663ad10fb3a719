import { assert, describe, it } from "@effect/vitest"
import { FastCheck } from "effect"
import { stampedText } from "../src/Generator.ts"
import { keyBytes, LineSplitter, numberAt, stampOf, startsWith } from "../src/Lines.ts"

const tag = (s: string) => Buffer.from(s)
const whole = (s: string) => {
  const b = Buffer.from(s)
  return [b, 0, b.length] as const
}

/** Feeds `bytes` in pieces cut at `cuts`, each copied into one reused buffer full of stale newlines. */
const split = (bytes: Buffer, cuts: ReadonlyArray<number>, maxLineBytes = 1 << 20) => {
  const shared = Buffer.alloc(bytes.length + 64, "\n")
  const splitter = new LineSplitter(maxLineBytes)
  const lines: Array<string> = []
  const bounds = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
  let from = 0
  let ok = true
  for (const to of [...bounds, bytes.length]) {
    if (to <= from) continue
    shared.fill(10)
    bytes.copy(shared, 0, from, to)
    ok = splitter.push(shared, to - from, (buf, s, e) => lines.push(buf.toString("utf8", s, e))) && ok
    from = to
  }
  return { lines, ok, buffered: splitter.buffered }
}

describe("LineSplitter", () => {
  it("gives back every complete line whatever the read boundaries, and holds the rest", () => {
    const line = FastCheck.string({ unit: "grapheme", maxLength: 40 }).map((s) => s.replace(/[\r\n]/g, "."))
    FastCheck.assert(
      FastCheck.property(
        FastCheck.array(line, { maxLength: 20 }),
        FastCheck.string({ maxLength: 10 }).map((s) => s.replace(/[\r\n]/g, "")),
        FastCheck.array(FastCheck.nat(2000), { maxLength: 12 }),
        FastCheck.boolean(),
        (lines, tail, cuts, crlf) => {
          const text = lines.map((l) => l + (crlf ? "\r\n" : "\n")).join("") + tail
          const got = split(Buffer.from(text), cuts)
          assert.deepStrictEqual(got.lines, lines)
          assert.strictEqual(got.buffered, Buffer.byteLength(tail))
          assert.isTrue(got.ok)
        }
      ),
      { numRuns: 300 }
    )
  })

  it("refuses a line longer than its limit, in one read or across reads", () => {
    assert.isFalse(split(Buffer.from("0123456789\n"), [], 8).ok)
    assert.isFalse(split(Buffer.from("0123456789\n"), [4, 7], 8).ok)
    assert.isFalse(split(Buffer.from("0123456789"), [3], 8).ok)
    const fits = split(Buffer.from("01234567\n0123"), [3, 9], 8)
    assert.deepStrictEqual(fits.lines, ["01234567"])
    assert.isTrue(fits.ok)
  })
})

describe("stampOf", () => {
  const message = (text: string) =>
    `{"type":"MESSAGE","message_id":7,"from":"a","to":null,"text":"${text}","timestamp":"t"}`

  it("reads back the send time of a stamped text with its tag", () => {
    FastCheck.assert(
      FastCheck.property(
        FastCheck.integer({ min: 0, max: 2 ** 50 }),
        FastCheck.stringMatching(/^[a-z0-9]{1,6}$/),
        FastCheck.integer({ min: 1, max: 300 }),
        (sentUs, t, bytes) => {
          assert.strictEqual(stampOf(...whole(message(stampedText(sentUs, t, bytes))), tag(t)), sentUs)
        }
      )
    )
  })

  it("is NaN for another tag, a tag that only starts the same, or no stamp", () => {
    assert.isNaN(stampOf(...whole(message(stampedText(5, "s1", 100))), tag("s2")))
    assert.isNaN(stampOf(...whole(message(stampedText(5, "s12", 100))), tag("s1")))
    assert.isNaN(stampOf(...whole(message(stampedText(5, "s1", 100))), tag("s12")))
    assert.isNaN(stampOf(...whole(message("hello: there")), tag("s1")))
    assert.isNaN(stampOf(...whole(message(":s1:")), tag("s1")))
    assert.isNaN(stampOf(...whole("{\"type\":\"MESSAGE\"}"), tag("s1")))
  })

  it("looks only inside its range", () => {
    const a = message(stampedText(11, "s1", 50))
    const b = message("no stamp")
    const buf = Buffer.from(b + "\n" + a)
    assert.isNaN(stampOf(buf, 0, Buffer.byteLength(b), tag("s1")))
    assert.strictEqual(stampOf(buf, Buffer.byteLength(b) + 1, buf.length, tag("s1")), 11)
  })
})

describe("numberAt", () => {
  const id = keyBytes("id")
  it("reads a plain, quoted, negative or fractional number", () => {
    assert.strictEqual(
      numberAt(...whole("{\"type\":\"ACK\",\"message_id\":3,\"id\":1700000000123}"), id),
      1700000000123
    )
    assert.strictEqual(numberAt(...whole("{\"type\":\"ACK\",\"id\":\"42\"}"), id), 42)
    assert.strictEqual(numberAt(...whole("{\"id\":-1.5}"), id), -1.5)
    assert.strictEqual(numberAt(...whole("{\"id\":1e3}"), id), 1000)
  })
  it("is NaN when the key is missing, not a number, or outside the range", () => {
    assert.isNaN(numberAt(...whole("{\"type\":\"ACK\",\"message_id\":3}"), id))
    assert.isNaN(numberAt(...whole("{\"id\":null}"), id))
    const buf = Buffer.from("{\"x\":1}\n{\"id\":5}")
    assert.isNaN(numberAt(buf, 0, 7, id))
    assert.strictEqual(numberAt(buf, 8, buf.length, id), 5)
  })
})

describe("startsWith", () => {
  it("compares the prefix inside the range only", () => {
    const buf = Buffer.from("xx{\"type\":\"ACK\"}")
    assert.isTrue(startsWith(buf, 2, buf.length, Buffer.from("{\"type\":\"ACK\"")))
    assert.isFalse(startsWith(buf, 0, buf.length, Buffer.from("{\"type\":\"ACK\"")))
    assert.isFalse(startsWith(buf, 2, 6, Buffer.from("{\"type\":\"ACK\"")))
  })
})
