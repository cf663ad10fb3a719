/**
 * A byte-level line framer. TCP delivers arbitrary chunks: a frame may span
 * many of them and one chunk may hold many frames, so lines are found on bytes
 * and only a complete line is decoded as UTF-8 (a character split across
 * chunks survives). An oversized line is discarded as it arrives, never
 * buffered past `maxFrameBytes`, and reported exactly once.
 */
import { Chunk, Stream } from "effect"
import { MAX_FRAME_BYTES } from "./Fields.ts"

/**
 * What the framer yields: a decoded line, an oversized line, or a line that is
 * not UTF-8 (`Malformed`, answered INVALID_JSON; another transport's framer
 * may say why in `message`, e.g. a WebSocket message that is not one frame).
 */
export type FrameEvent =
  | { readonly _tag: "Line"; readonly text: string }
  | { readonly _tag: "TooLarge" }
  | { readonly _tag: "Malformed"; readonly message?: string }

const LF = 10
const CR = 13
const tooLarge: FrameEvent = { _tag: "TooLarge" }
// one decoder for every framer: it decodes whole lines, so it keeps no state between calls
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
const malformed: FrameEvent = { _tag: "Malformed" }

/** A stateful framer for one byte stream; `push` chunks in order. */
export class Framer {
  private parts: Array<Uint8Array> = []
  private size = 0
  /** The line so far is exactly `maxFrameBytes` long plus a `\r` that may yet be its terminator. */
  private pendingCr = false
  /** Inside an oversized line that was already reported: drop bytes until its newline. */
  private discarding = false

  constructor(readonly maxFrameBytes: number = MAX_FRAME_BYTES) {}

  /** Bytes currently held for an incomplete line (never more than `maxFrameBytes`). */
  get buffered(): number {
    return this.size
  }

  /** Feeds one chunk, calling `emit` for each event in order. */
  push(chunk: Uint8Array, emit: (event: FrameEvent) => void): void {
    let start = 0
    const end = chunk.length
    while (start < end) {
      const nl = chunk.indexOf(LF, start)
      if (nl === -1) {
        this.append(chunk, start, end, emit)
        return
      }
      this.complete(chunk, start, nl, emit)
      start = nl + 1
    }
  }

  /** Feeds one chunk, appending its events to `out` in order. */
  pushInto(chunk: Uint8Array, out: Array<FrameEvent>): void {
    this.into = out
    this.push(chunk, this.intoEmit ??= (e) => this.into!.push(e))
    this.into = undefined
  }

  private into: Array<FrameEvent> | undefined = undefined
  private intoEmit: ((event: FrameEvent) => void) | undefined = undefined

  /** Feeds one chunk and returns its events. */
  feed(chunk: Uint8Array): Array<FrameEvent> {
    const out: Array<FrameEvent> = []
    this.push(chunk, (e) => out.push(e))
    return out
  }

  private reset(): void {
    if (this.size > 0) this.parts = []
    this.size = 0
    this.pendingCr = false
  }

  private overflow(emit: (event: FrameEvent) => void): void {
    this.reset()
    this.discarding = true
    emit(tooLarge)
  }

  private append(chunk: Uint8Array, start: number, end: number, emit: (event: FrameEvent) => void): void {
    if (this.discarding) return
    if (this.pendingCr) return this.overflow(emit)
    const n = end - start
    const room = this.maxFrameBytes - this.size
    if (n <= room) {
      // copy: a view would pin the whole socket chunk in memory
      this.parts.push(chunk.slice(start, end))
      this.size += n
    } else if (n === room + 1 && chunk[end - 1] === CR) {
      if (room > 0) this.parts.push(chunk.slice(start, end - 1))
      this.size += room
      this.pendingCr = true
    } else {
      this.overflow(emit)
    }
  }

  private complete(chunk: Uint8Array, start: number, nl: number, emit: (event: FrameEvent) => void): void {
    if (this.discarding) {
      this.discarding = false
      return
    }
    let bytes: Uint8Array
    if (this.pendingCr) {
      if (nl !== start) {
        // bytes follow the `\r`: the line is longer than the limit
        this.reset()
        emit(tooLarge)
        return
      }
      bytes = this.join(chunk, start, start)
    } else {
      if (this.size + (nl - start) > this.maxFrameBytes + 1) {
        this.reset()
        emit(tooLarge)
        return
      }
      bytes = this.join(chunk, start, nl)
      if (bytes.length > 0 && bytes[bytes.length - 1] === CR) bytes = bytes.subarray(0, bytes.length - 1)
      if (bytes.length > this.maxFrameBytes) {
        emit(tooLarge)
        return
      }
    }
    if (bytes.length === 0) return
    let text: string
    try {
      text = decoder.decode(bytes)
    } catch {
      emit(malformed)
      return
    }
    if (isBlank(text)) return
    emit({ _tag: "Line", text })
  }

  /** The buffered bytes followed by `chunk[start, end)`, then forgets the buffer. */
  private join(chunk: Uint8Array, start: number, end: number): Uint8Array {
    if (this.size === 0) {
      this.pendingCr = false
      return chunk.subarray(start, end)
    }
    const out = new Uint8Array(this.size + (end - start))
    let at = 0
    for (const part of this.parts) {
      out.set(part, at)
      at += part.length
    }
    out.set(chunk.subarray(start, end), at)
    this.reset()
    return out
  }
}

// most lines start with `{`: skip the trim for them
const isBlank = (text: string): boolean => text.charCodeAt(0) === 123 ? false : text.trim().length === 0

/** Frames a byte stream: chunks of bytes in, frame events out. */
export const frames =
  (maxFrameBytes: number = MAX_FRAME_BYTES) =>
  <E, R>(self: Stream.Stream<Uint8Array, E, R>): Stream.Stream<FrameEvent, E, R> =>
    Stream.suspend(() => {
      const framer = new Framer(maxFrameBytes)
      return Stream.mapChunks(self, (chunks) => {
        const out: Array<FrameEvent> = []
        const emit = (e: FrameEvent) => out.push(e)
        for (const chunk of chunks) framer.push(chunk, emit)
        return Chunk.unsafeFromArray(out)
      })
    })
