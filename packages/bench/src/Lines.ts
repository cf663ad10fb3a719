/**
 * The generator's receive path on bytes. A generator reads hundreds of
 * thousands of MESSAGE lines a second, and what it does per line is part of
 * every latency it reports (its own garbage collections and busy time delay
 * the receipts it timestamps). So lines are split on the bytes of one shared
 * read buffer, the hot lines (MESSAGE, ACK) are recognised by their prefix,
 * and the send stamp is read from the bytes: no Buffer, string or object per
 * line. Anything else is decoded and JSON-parsed as usual.
 */

export const MESSAGE_PREFIX = Buffer.from("{\"type\":\"MESSAGE\"")
export const ACK_PREFIX = Buffer.from("{\"type\":\"ACK\"")
export const PRESENCE_PREFIX = Buffer.from("{\"type\":\"PRESENCE\"")
const TEXT_KEY = Buffer.from("\"text\":\"")

const LF = 10
const CR = 13
const COLON = 58
const QUOTE = 34

/** True when `buf[start, end)` starts with `prefix`. */
export const startsWith = (buf: Uint8Array, start: number, end: number, prefix: Uint8Array): boolean => {
  if (end - start < prefix.length) return false
  for (let i = 0; i < prefix.length; i++) if (buf[start + i] !== prefix[i]) return false
  return true
}

/** The first index of `needle` in `buf[start, end)`, or -1. */
const indexIn = (buf: Buffer, needle: Uint8Array, start: number, end: number): number => {
  const i = buf.indexOf(needle, start)
  return i >= 0 && i + needle.length <= end ? i : -1
}

/**
 * Reads the stamp `<sentUs>:<tag>:` that starts the text of the MESSAGE line
 * in `buf[start, end)` (see `stampedText`): the send time in µs when the tag
 * is `tag`, NaN when the line has no stamp or another tag (a delivery of an
 * earlier step, or someone else's message).
 */
export const stampOf = (buf: Buffer, start: number, end: number, tag: Uint8Array): number => {
  const key = indexIn(buf, TEXT_KEY, start, end)
  if (key < 0) return NaN
  let i = key + TEXT_KEY.length
  let sent = 0
  const first = i
  for (; i < end; i++) {
    const c = buf[i]!
    if (c < 48 || c > 57) break
    sent = sent * 10 + (c - 48)
  }
  if (i === first || i >= end || buf[i] !== COLON) return NaN
  i++
  if (i + tag.length >= end) return NaN
  for (let t = 0; t < tag.length; t++) if (buf[i + t] !== tag[t]) return NaN
  return buf[i + tag.length] === COLON ? sent : NaN
}

/** The number after `"key":` in `buf[start, end)` (a quoted one too: `"id":"12"`); NaN when absent. */
export const numberAt = (buf: Buffer, start: number, end: number, key: Uint8Array): number => {
  const at = indexIn(buf, key, start, end)
  if (at < 0) return NaN
  let j = at + key.length
  if (buf[j] === QUOTE) j++
  let k = j
  while (k < end) {
    const c = buf[k]!
    if ((c < 48 || c > 57) && c !== 46 && c !== 45 && c !== 101 && c !== 69 && c !== 43) break
    k++
  }
  return k === j ? NaN : Number(buf.toString("latin1", j, k))
}

/** `"<name>":` as bytes, for `numberAt`. */
export const keyBytes = (name: string): Buffer => Buffer.from(`"${name}":`)

/**
 * Splits one connection's byte stream into lines. A line that ends inside
 * the chunk is handed over as a range of the chunk itself; only the tail of
 * a chunk (a line the next read completes) is copied, and a line longer than
 * `maxLineBytes` stops the splitter (the caller drops the connection).
 */
export class LineSplitter {
  private carry: Buffer | undefined = undefined

  constructor(readonly maxLineBytes: number) {}

  /** Bytes held for an incomplete line. */
  get buffered(): number {
    return this.carry?.length ?? 0
  }

  /**
   * Feeds `buf[0, n)`, calling `line(buf, start, end)` for each complete line
   * (without its `\n` or `\r\n`). The range is valid only during the call.
   * False when a line outgrew the limit.
   */
  push(buf: Buffer, n: number, line: (buf: Buffer, start: number, end: number) => void): boolean {
    let start = 0
    if (this.carry !== undefined) {
      const nl = buf.indexOf(LF)
      if (nl < 0 || nl >= n) {
        if (this.carry.length + n > this.maxLineBytes) return false
        this.carry = Buffer.concat([this.carry, buf.subarray(0, n)])
        return true
      }
      if (this.carry.length + nl > this.maxLineBytes) return false
      const whole = Buffer.concat([this.carry, buf.subarray(0, nl)])
      this.carry = undefined
      line(whole, 0, trimCr(whole, 0, whole.length))
      start = nl + 1
    }
    while (start < n) {
      const nl = buf.indexOf(LF, start)
      if (nl < 0 || nl >= n) {
        if (n - start > this.maxLineBytes) return false
        this.carry = Buffer.from(buf.subarray(start, n))
        return true
      }
      if (nl - start > this.maxLineBytes) return false
      line(buf, start, trimCr(buf, start, nl))
      start = nl + 1
    }
    return true
  }
}

const trimCr = (buf: Uint8Array, start: number, end: number): number =>
  end > start && buf[end - 1] === CR ? end - 1 : end
