/**
 * Arbitraries shared by the protocol suites: frames derived from the Schemas,
 * byte streams that exercise every framing rule, and ways to cut them into chunks.
 */
import {
  Ack,
  Bye,
  Command,
  Connected,
  ErrorFrame,
  Hello,
  HistoryPage,
  Message,
  Ok,
  Pong,
  Presence,
  Receipt,
  Registered,
  ServerFrame,
  Text,
  Truncated,
  Username,
  UsersList
} from "@parley/protocol"
import { Arbitrary, FastCheck as fc, Schema } from "effect"

const utf8 = new TextEncoder()

/** Every command, as `Arbitrary.make` derives it from the `Command` schema. */
export const command = Arbitrary.make(Command)

/** Every server frame the schema admits (names and texts are any string). */
export const serverFrame = Arbitrary.make(ServerFrame)

const ConformantMessage = Schema.Struct({
  ...Message.fields,
  from: Username,
  to: Schema.NullOr(Username),
  text: Text
})

/**
 * Server frames as the server sends them: the schema of each frame with its
 * names narrowed to the username rule and its texts to the text rule.
 */
export const ConformantServerFrame = Schema.Union(
  Hello,
  Schema.Struct({ ...Registered.fields, username: Username }),
  Schema.Struct({ ...Connected.fields, user: Username, online: Schema.Array(Username) }),
  Ack,
  ConformantMessage,
  Schema.Struct({ ...HistoryPage.fields, messages: Schema.Array(ConformantMessage).pipe(Schema.maxItems(8)) }),
  Ok,
  Schema.Struct({ ...UsersList.fields, online: Schema.Array(Username) }),
  Pong,
  Bye,
  ErrorFrame,
  Schema.Struct({ ...Presence.fields, user: Username }),
  Schema.Struct({ ...Receipt.fields, by: Username }),
  Truncated
)

/** Server frames that follow every field rule of the contract. */
export const conformantServerFrame: fc.Arbitrary<ServerFrame> = Arbitrary.make(ConformantServerFrame)

/** Concatenates byte arrays. */
export const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** `n` bytes of text mixing 1-, 2- and 4-byte characters; the last one may be cut (then it is not UTF-8). */
const sized = (n: number) =>
  fc.tuple(fc.constantFrom("x", "é", "😀", "{\"a\":1}"), fc.boolean()).map(([unit, crLast]) => {
    const bytes = utf8.encode(unit.repeat(Math.ceil(n / utf8.encode(unit).length) + 1)).slice(0, n)
    // a `\r` as the line's last byte: `\r` then `\n` across the limit is the framer's hardest case
    if (crLast && n > 0) bytes[n - 1] = 13
    return bytes
  })

const invalidUtf8 = fc.oneof(
  fc.constantFrom(
    [0xff],
    [0xc3], // a 2-byte sequence cut short
    [0xe2, 0x82], // a 3-byte sequence cut short
    [0xed, 0xa0, 0x80], // an encoded surrogate
    [0xc0, 0x80], // an overlong NUL
    [0xf4, 0x90, 0x80, 0x80] // past U+10FFFF
  ).map((b) => Uint8Array.from(b)),
  fc.uint8Array({ minLength: 1, maxLength: 24 })
).chain((bad) => fc.string({ maxLength: 6 }).map((s) => concat([utf8.encode(s), bad])))

/** One line's content (its terminator excluded) for a framer with limit `max`. */
export const lineBody = (max: number): fc.Arbitrary<Uint8Array> =>
  fc.oneof(
    { weight: 3, arbitrary: command.map((c) => utf8.encode(JSON.stringify(c))) },
    { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }).map((s) => utf8.encode(s)) },
    {
      weight: 2,
      arbitrary: fc.string({ unit: fc.constantFrom("é", "€", "😀", "中", "a", " ", "\r"), maxLength: 40 })
        .map((s) => utf8.encode(s))
    },
    {
      weight: 2,
      // blank and whitespace-only lines
      arbitrary: fc.string({ unit: fc.constantFrom(" ", "\t", "\r", "\u00a0", "\u3000", "\u2028"), maxLength: 6 })
        .map((s) => utf8.encode(s))
    },
    { weight: 1, arbitrary: invalidUtf8 },
    { weight: 2, arbitrary: fc.integer({ min: Math.max(0, max - 3), max: max + 3 }).chain(sized) },
    { weight: 1, arbitrary: fc.integer({ min: max + 2, max: 3 * max + 8 }).chain(sized) }
  )

/** Line terminators, including an extra `\r` (content) before a `\r\n` and an empty line. */
export const terminator = fc.constantFrom("\n", "\r\n", "\r\r\n", "\n\n").map((t) => utf8.encode(t))

/** A byte stream of terminated lines, perhaps ending in the middle of one. */
export const byteStream = (max: number): fc.Arbitrary<Uint8Array> =>
  fc.tuple(
    fc.array(fc.tuple(lineBody(max), terminator), { maxLength: 10 }),
    fc.option(lineBody(max), { nil: undefined })
  ).map(([lines, tail]) => concat([...lines.flat(), ...(tail === undefined ? [] : [tail])]))

/** How to cut a stream: the cut kinds the issue names, each topped up with random cuts. */
export type Cutting = "random" | "bytewise" | "inside-utf8" | "between-cr-lf"

/** A way of cutting any stream into chunks: a kind plus seeds for random cut points. */
export const cutting = fc.record({
  kind: fc.constantFrom<Cutting>("random", "bytewise", "inside-utf8", "between-cr-lf"),
  seeds: fc.array(fc.nat(), { maxLength: 24 })
})

/**
 * Cuts `bytes` into chunks. Repeated cut points give empty chunks, which a
 * socket never delivers but a framer must take in its stride.
 */
export const cut = (bytes: Uint8Array, how: { readonly kind: Cutting; readonly seeds: ReadonlyArray<number> }) => {
  const points = how.seeds.map((s) => s % (bytes.length + 1))
  for (let i = 1; i < bytes.length; i++) {
    const b = bytes[i]!
    if (
      how.kind === "bytewise" ||
      (how.kind === "inside-utf8" && b >= 0x80 && b <= 0xbf) ||
      (how.kind === "between-cr-lf" && b === 10 && bytes[i - 1] === 13)
    ) points.push(i)
  }
  points.sort((a, b) => a - b)
  const chunks: Array<Uint8Array> = []
  let from = 0
  for (const p of points) {
    chunks.push(bytes.slice(from, p))
    from = p
  }
  chunks.push(bytes.slice(from))
  return chunks
}

/** Arbitrary bytes, biased towards the ones framing and UTF-8 decoding care about. */
export const noisyBytes = fc.array(
  fc.oneof(
    fc.integer({ min: 0, max: 255 }),
    fc.constantFrom(10, 13, 32, 9, 0x7b, 0x7d, 0x22, 0x3a, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80, 0xff)
  ),
  { maxLength: 400 }
).map((a) => Uint8Array.from(a))
