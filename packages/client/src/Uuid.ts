/**
 * Random version-4 UUIDs for `client_msg_id`, from Web Crypto's `getRandomValues`, which Node
 * and every browser have. Not `crypto.randomUUID`: a browser offers that only in a secure
 * context (HTTPS or localhost), and a page served over plain HTTP on a LAN address is not one.
 */
const hex: ReadonlyArray<string> = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"))

/** A fresh random UUID (version 4, RFC 9562), lower-case. */
export const randomUuid = (): string => {
  const b = globalThis.crypto.getRandomValues(new Uint8Array(16))
  b[6] = (b[6]! & 0x0f) | 0x40
  b[8] = (b[8]! & 0x3f) | 0x80
  const h = (i: number) => hex[b[i]!]!
  return `${h(0)}${h(1)}${h(2)}${h(3)}-${h(4)}${h(5)}-${h(6)}${h(7)}-${h(8)}${h(9)}-${h(10)}${h(11)}${h(12)}${h(13)}${
    h(14)
  }${h(15)}`
}
