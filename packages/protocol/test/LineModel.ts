/**
 * The framing rules of protocol v1 written as plainly as possible over a whole
 * byte stream: the oracle the incremental `Framer` is checked against.
 */
import type { FrameEvent } from "@parley/protocol"

const LF = 10
const CR = 13

/** The events a connection that delivered exactly `bytes` must have produced. */
export const frameWhole = (bytes: Uint8Array, max: number): Array<FrameEvent> => {
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
  const out: Array<FrameEvent> = []
  let start = 0
  for (let nl = bytes.indexOf(LF); nl !== -1; nl = bytes.indexOf(LF, start)) {
    let line = bytes.subarray(start, nl)
    start = nl + 1
    if (line[line.length - 1] === CR) line = line.subarray(0, line.length - 1)
    if (line.length > max) {
      out.push({ _tag: "TooLarge" })
      continue
    }
    let text: string
    try {
      text = decoder.decode(line)
    } catch {
      out.push({ _tag: "Malformed" })
      continue
    }
    if (!/\S/.test(text)) continue
    out.push({ _tag: "Line", text })
  }
  // an unterminated line is reported as soon as no terminator could still make it fit
  const rest = bytes.length - start
  if (rest > max + 1 || (rest === max + 1 && bytes[bytes.length - 1] !== CR)) out.push({ _tag: "TooLarge" })
  return out
}
