/**
 * The key a per-address limit counts under: an IPv4 address as it is (also
 * when it arrives IPv4-mapped, `::ffff:1.2.3.4`), an IPv6 address by its /64,
 * since one host commonly holds a whole /64 and could otherwise walk through
 * it. The contract says so for every per-address limit.
 */
import * as Net from "node:net"

/** Expands an IPv6 address to its eight 16-bit groups. */
const groups = (address: string): Array<number> => {
  const [head, tail] = address.split("::") as [string, string | undefined]
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((g) => Number.parseInt(g, 16)))
  const left = parse(head)
  const right = tail === undefined ? [] : parse(tail)
  return [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill(0), ...right]
}

export const addressKey = (remoteAddress: string): string => {
  const bare = remoteAddress.replace(/%.*$/, "")
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(bare)
  if (mapped !== null) return mapped[1]!
  if (!Net.isIPv6(bare)) return bare
  // an IPv6 address whose tail is dotted IPv4: only its /64 matters, which the dots never reach
  const prefix = groups(bare.includes(".") ? bare.slice(0, bare.lastIndexOf(":") + 1) + "0:0" : bare).slice(0, 4)
  return `${prefix.map((g) => g.toString(16)).join(":")}::/64`
}
