/**
 * The generator's WebSocket client on bytes, for `--transport ws`: the
 * upgrade request, then the server's frames read out of the same shared read
 * buffer as TCP lines (see `Lines.ts`), each text frame's payload handed to
 * the line handler as a range, never copied unless it straddles two reads.
 * The `ws` library's client costs several objects and a stream write per
 * message; at hundreds of thousands of deliveries a second that made the
 * generator, not the server, the bottleneck the fan-out measured. Only what
 * Parley's server sends is understood: unfragmented, unmasked, uncompressed
 * text frames (and a close frame, after which the socket closes).
 */
import { randomBytes } from "node:crypto"

const HEADER_END = Buffer.from("\r\n\r\n")
const SWITCHING = Buffer.from("HTTP/1.1 101")

/** The upgrade request for `/ws` (the server's reply is checked by `WebSocketReader`). */
export const upgradeRequest = (host: string, port: number): string =>
  `GET /ws HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
  `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n\r\n`

/**
 * One client frame: text, FIN, masked as the protocol requires, with an
 * all-zero key (the payload goes out as it is: the server unmasks any key,
 * and the generator's CPU is better spent receiving).
 */
export const maskedTextFrame = (payload: Uint8Array): Buffer => {
  const n = payload.length
  const header = n < 126 ? 2 : n < 65536 ? 4 : 10
  const out = Buffer.alloc(header + 4 + n)
  out[0] = 0x81
  if (n < 126) out[1] = 0x80 | n
  else if (n < 65536) {
    out[1] = 0x80 | 126
    out.writeUInt16BE(n, 2)
  } else {
    out[1] = 0x80 | 127
    out.writeUInt32BE(n, 6)
  }
  out.set(payload, header + 4)
  return out
}

/** Splits one connection's bytes into the upgrade reply and then text frames, like `LineSplitter` does lines. */
export class WebSocketReader {
  private carry: Buffer | undefined = undefined
  private upgraded = false

  constructor(readonly maxFrameBytes: number) {}

  get buffered(): number {
    return this.carry?.length ?? 0
  }

  /**
   * Feeds `buf[0, n)`, calling `line(buf, start, end)` for each text frame's
   * payload (valid only during the call). False on anything but a 101 reply
   * or on a frame past the limit.
   */
  push(buf: Buffer, n: number, line: (buf: Buffer, start: number, end: number) => void): boolean {
    let data = buf
    let end = n
    if (this.carry !== undefined) {
      data = Buffer.concat([this.carry, buf.subarray(0, n)])
      end = data.length
      this.carry = undefined
    }
    let at = 0
    if (!this.upgraded) {
      const headEnd = data.indexOf(HEADER_END)
      if (headEnd < 0 || headEnd >= end) {
        if (end > 16 * 1024) return false
        this.carry = Buffer.from(data.subarray(0, end))
        return true
      }
      if (data.compare(SWITCHING, 0, SWITCHING.length, 0, SWITCHING.length) !== 0) return false
      this.upgraded = true
      at = headEnd + HEADER_END.length
    }
    while (at < end) {
      if (end - at < 2) break
      const opcode = data[at]! & 0x0f
      let length = data[at + 1]! & 0x7f
      let header = 2
      if (length === 126) {
        if (end - at < 4) break
        length = data.readUInt16BE(at + 2)
        header = 4
      } else if (length === 127) {
        if (end - at < 10) break
        length = data.readUInt32BE(at + 2) * 2 ** 32 + data.readUInt32BE(at + 6)
        header = 10
      }
      if (length > this.maxFrameBytes) return false
      if (end - at < header + length) break
      if (opcode === 1) line(data, at + header, at + header + length)
      at += header + length
    }
    if (at < end) this.carry = Buffer.from(data.subarray(at, end))
    return true
  }
}
