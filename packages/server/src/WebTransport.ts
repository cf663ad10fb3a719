/**
 * A WebSocket connection as a `Transport` (see `Transport.ts`), so that a
 * browser is a connection like any other: same accept path, worker, outbox,
 * limits and hub as TCP. The contract (protocol v1.1, "Transport"): each
 * WebSocket text message is exactly one frame, the JSON without its
 * trailing newline, in both directions.
 *
 * Inbound, the `ws` library parses WebSocket frames (unmasking, fragments,
 * ping/pong, the close handshake) and hands over whole messages; each is one
 * chunk for `MessageFramer`, which makes it exactly one frame event: a line,
 * `TooLarge` (more than the frame limit: FRAME_TOO_LARGE, and the connection
 * stays open), or `Malformed` (INVALID_JSON, nothing run) for a binary
 * message, a message holding more than one line, or one that is empty or not
 * UTF-8. `ws` is told not to check UTF-8 itself, as it would close the
 * connection where the contract answers INVALID_JSON.
 *
 * Outbound, each encoded line becomes one text frame as the outbox queues
 * it (`frame`), and the outbox hands `write` what it gathered in one turn of
 * the event loop, written to the underlying socket with one call, as TCP
 * does. The server's frames are not masked and not compressed,
 * so framing is a 2-, 4- or 10-byte header per line; going through
 * `ws.send` instead would cost a header allocation, an options object and
 * two socket writes per frame and recipient. Writing whole frames to the
 * socket beside `ws` is safe because `ws` itself only ever writes whole
 * frames to it (close and pong), in call order, and compression is off.
 * Backpressure is the socket's own: `write` returns what the socket's
 * `write` returned and its `drain` is passed on.
 *
 * Closing: `end` is a close handshake with code 1000 (after the BYE the
 * connection sends), `destroy` cuts the TCP connection. A close frame from
 * the peer, or its socket closing, ends the connection like a TCP FIN.
 */
import type { FrameEvent } from "@parley/protocol"
import { EventEmitter } from "node:events"
import type * as Net from "node:net"
import { WebSocket } from "ws"
import type { FrameSource, Transport } from "./Transport.ts"

const LF = 10
const CR = 13

/** Stands for a binary message in the data handler: refused whole, whatever it holds. */
const BINARY: Buffer = Buffer.alloc(0)

const tooLarge: FrameEvent = { _tag: "TooLarge" }
const binaryRefused: FrameEvent = {
  _tag: "Malformed",
  message: "binary WebSocket messages are not accepted: send each frame as one text message"
}
const notOneFrame: FrameEvent = {
  _tag: "Malformed",
  message: "a WebSocket message must hold exactly one frame (one JSON object, no newline inside); nothing in it was run"
}
const notUtf8: FrameEvent = { _tag: "Malformed", message: "the message is not valid UTF-8" }
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })

/**
 * One WebSocket message → exactly one frame event. A trailing `\n` (or
 * `\r\n`) is allowed, as the frame's own terminator; any other newline means
 * more than one line, which the contract refuses whole.
 */
export class MessageFramer implements FrameSource {
  constructor(readonly maxFrameBytes: number) {}

  pushInto(message: Uint8Array, out: Array<FrameEvent>): void {
    if (message === BINARY) {
      out.push(binaryRefused)
      return
    }
    let end = message.length
    if (end > 0 && message[end - 1] === LF) {
      end--
      if (end > 0 && message[end - 1] === CR) end--
    }
    if (end > this.maxFrameBytes) {
      out.push(tooLarge)
      return
    }
    const body = end === message.length ? message : message.subarray(0, end)
    if (body.indexOf(LF) !== -1) {
      out.push(notOneFrame)
      return
    }
    let text: string
    try {
      text = decoder.decode(body)
    } catch {
      out.push(notUtf8)
      return
    }
    out.push(text.trim().length === 0 ? notOneFrame : { _tag: "Line", text })
  }
}

/** The size of an unmasked frame header for a payload of `n` bytes. */
const headerBytes = (n: number): number => (n < 126 ? 2 : n < 65536 ? 4 : 10)

/** Each `\n`-ended line of `data` as an unmasked WebSocket text frame (FIN set), all in one buffer. */
export const textFrames = (data: Uint8Array): Buffer => {
  const length = data.length
  let size = 0
  for (let start = 0; start < length;) {
    let nl = data.indexOf(LF, start)
    if (nl === -1) nl = length
    size += headerBytes(nl - start) + (nl - start)
    start = nl + 1
  }
  const out = Buffer.allocUnsafe(size)
  let at = 0
  for (let start = 0; start < length;) {
    let nl = data.indexOf(LF, start)
    if (nl === -1) nl = length
    const n = nl - start
    out[at++] = 0x81 // FIN, text
    if (n < 126) {
      out[at++] = n
    } else if (n < 65536) {
      out[at++] = 126
      out.writeUInt16BE(n, at)
      at += 2
    } else {
      out[at++] = 127
      out.writeUInt32BE(0, at)
      out.writeUInt32BE(n, at + 4)
      at += 8
    }
    out.set(data.subarray(start, nl), at)
    at += n
    start = nl + 1
  }
  return out
}

/**
 * One encoded frame (a line ending in `\n`) as a WebSocket text frame. The
 * hub hands the same frame to each of its recipients in turn, so the last
 * one framed is kept: a broadcast is framed once for all its WebSocket
 * recipients, as it is encoded once for all (A/B in docs/benchmarks.md,
 * "WebSocket"). Anything else (several lines at once) goes through
 * `textFrames`.
 */
let lastLine: Uint8Array | undefined
let lastFramed: Buffer = Buffer.alloc(0)
export const textFrame = (line: Uint8Array): Buffer => {
  if (line === lastLine) return lastFramed
  const n = line.length - 1
  if (n < 0 || line[n] !== LF || line.indexOf(LF) !== n) return textFrames(line)
  const header = headerBytes(n)
  const out = Buffer.allocUnsafe(header + n)
  out[0] = 0x81 // FIN, text
  if (n < 126) {
    out[1] = n
  } else if (n < 65536) {
    out[1] = 126
    out.writeUInt16BE(n, 2)
  } else {
    out[1] = 127
    out.writeUInt32BE(0, 2)
    out.writeUInt32BE(n, 6)
  }
  out.set(line.subarray(0, n), header)
  lastLine = line
  lastFramed = out
  return out
}

function onMessage(this: WebSocket & { [transportKey]?: WebTransport }, data: Buffer, isBinary: boolean): void {
  this[transportKey]?.emit("data", isBinary ? BINARY : data)
}
function onClose(this: WebSocket & { [transportKey]?: WebTransport }): void {
  const transport = this[transportKey]
  if (transport === undefined) return
  transport.emit("end")
  transport.emit("close")
}
function onError(): void {
  // a protocol error (a message past maxPayload, a bad frame): ws closes, and 'close' follows
}

const transportKey = Symbol("@parley/server/WebTransport")

/** The close code after a BYE: a normal closure. */
const NORMAL_CLOSURE = 1000

export class WebTransport extends EventEmitter implements Transport {
  constructor(
    private readonly ws: WebSocket,
    /** The TCP (or TLS) socket under it, which frames are written to. */
    private readonly raw: Net.Socket,
    /** The peer's address, or with `--trust-proxy` the one the proxy forwarded. */
    readonly remoteAddress: string
  ) {
    super()
    ;(ws as WebSocket & { [transportKey]?: WebTransport })[transportKey] = this
    ws.on("message", onMessage)
    ws.on("close", onClose)
    ws.on("error", onError)
    raw.on("drain", () => this.emit("drain"))
  }

  get remotePort(): number | undefined {
    return this.raw.remotePort
  }

  get destroyed(): boolean {
    return this.ws.readyState !== WebSocket.OPEN || this.raw.destroyed
  }

  /** Frames are WebSocket frames on this transport: the outbox queues them framed (see `textFrame`). */
  readonly frame = textFrame

  /** Writes what `frame` made (whole WebSocket frames). */
  write(data: Uint8Array): boolean {
    return this.raw.write(data)
  }

  end(data?: Uint8Array): this {
    if (data !== undefined && !this.destroyed) this.write(textFrames(data))
    this.ws.close(NORMAL_CLOSURE)
    return this
  }

  destroy(): this {
    this.ws.terminate()
    return this
  }

  pause(): this {
    this.ws.pause()
    return this
  }

  resume(): this {
    this.ws.resume()
    return this
  }

  /** `ws` turns Nagle off on every socket it takes over. */
  setNoDelay(): this {
    return this
  }
}
