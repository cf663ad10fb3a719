/**
 * What a connection runs over: the few socket operations `Connection`,
 * `Outbox` and the per-address limits use, and how its inbound bytes become
 * frame events. A `net.Socket` (TCP, or TLS) is a `Transport` as it is, with
 * the line `Framer`: nothing is wrapped or added on the TCP path, so its hot
 * loop (data handler → framer → inbox; outbox → one `write` per turn) is
 * exactly what was measured before this seam existed. `WebTransport` is the
 * other one: a WebSocket, where each message is one frame.
 */
import type { FrameEvent } from "@parley/protocol"

export interface Transport {
  /** The peer's address as the per-address limits count it. */
  readonly remoteAddress?: string | undefined
  readonly remotePort?: number | undefined
  /** Nothing more can be written (the socket is gone, or closing). */
  readonly destroyed: boolean
  /**
   * How an encoded frame (a line ending in `\n`) goes on this transport's
   * wire, applied as it is queued; none: as it is (TCP).
   */
  readonly frame?: ((line: Uint8Array) => Uint8Array) | undefined
  /** Writes frames as `frame` made them (whole lines on TCP); false: wait for `drain` before writing more. */
  write(data: Uint8Array): boolean
  /** Ends the connection gracefully; with `data` (whole lines), writes that first. */
  end(): unknown
  end(data: Uint8Array): unknown
  destroy(): unknown
  /** Stops reading from the peer (flood control, a full inbox). */
  pause(): unknown
  resume(): unknown
  setNoDelay(noDelay?: boolean): unknown
  /** `data`: a chunk for the framer; `end`/`close`: the peer is gone; listeners are called with the transport as `this`. */
  on(event: "data", listener: (chunk: Buffer) => void): unknown
  on(event: "end" | "close" | "error", listener: () => void): unknown
  once(event: "drain" | "close", listener: () => void): unknown
}

/** Turns what a transport receives into frame events, in order (the line `Framer` for a byte stream). */
export interface FrameSource {
  pushInto(chunk: Uint8Array, out: Array<FrameEvent>): void
}
