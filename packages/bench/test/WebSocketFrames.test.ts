/**
 * The bench's own WebSocket framing (`WebSocketFrames.ts`): the upgrade reply and
 * the server's text frames read however the bytes are split, and client frames
 * masked with the right length form.
 */
import { assert, describe, it } from "@effect/vitest"
import { maskedTextFrame, WebSocketReader } from "../src/WebSocketFrames.ts"

const frame = (text: string): Buffer => {
  const payload = Buffer.from(text)
  const n = payload.length
  const header = n < 126 ? Buffer.from([0x81, n]) : Buffer.from([0x81, 126, n >> 8, n & 0xff])
  return Buffer.concat([header, payload])
}

const REPLY = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"

/** Feeds `bytes` in pieces of `size` and returns the payloads read. */
const readAll = (bytes: Buffer, size: number): Array<string> => {
  const reader = new WebSocketReader(1 << 20)
  const out: Array<string> = []
  for (let at = 0; at < bytes.length; at += size) {
    const piece = Buffer.from(bytes.subarray(at, at + size))
    assert.isTrue(reader.push(piece, piece.length, (buf, start, end) => out.push(buf.toString("utf8", start, end))))
  }
  return out
}

describe("WebSocketReader", () => {
  it("reads the upgrade reply, then each text frame's payload, however the bytes are split", () => {
    const long = "x".repeat(300)
    const bytes = Buffer.concat([Buffer.from(REPLY), frame("{\"type\":\"HELLO\"}"), frame(long), frame("é")])
    for (const size of [1, 2, 3, 7, 64, bytes.length]) {
      assert.deepStrictEqual(readAll(bytes, size), ["{\"type\":\"HELLO\"}", long, "é"], `pieces of ${size}`)
    }
  })

  it("refuses anything but a 101 reply", () => {
    const reader = new WebSocketReader(1024)
    const reply = Buffer.from("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
    assert.isFalse(reader.push(reply, reply.length, () => {}))
  })

  it("masks client frames with the length forms of the protocol", () => {
    assert.deepStrictEqual([...maskedTextFrame(Buffer.from("ab"))], [0x81, 0x82, 0, 0, 0, 0, 97, 98])
    const mid = maskedTextFrame(Buffer.alloc(300, 120))
    assert.deepStrictEqual([...mid.subarray(0, 8)], [0x81, 0x80 | 126, 1, 44, 0, 0, 0, 0])
    assert.strictEqual(mid.length, 308)
  })
})
