/**
 * The field rules of protocol v1. "Characters" are Unicode code points, so
 * lengths are counted with the string iterator, never with `.length`.
 */
import type { FastCheck } from "effect"
import { Schema } from "effect"

export const MAX_TEXT_CHARS = 4096
export const MAX_FRAME_BYTES = 65536
/**
 * The longest line a client should accept from a server: `max_frame_bytes`
 * bounds what clients send, but a HISTORY page of 100 messages of 4096
 * characters (each up to 6 bytes as JSON escapes) is larger.
 */
export const MAX_SERVER_FRAME_BYTES = 8 * 1024 * 1024
export const DEFAULT_HISTORY_LIMIT = 50
export const PROTOCOL_VERSION = 1

/** Number of Unicode code points in a string. */
export const codePointLength = (s: string): number => {
  let n = 0
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    // a high surrogate followed by a low one is one code point
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) i++
    }
    n++
  }
  return n
}

const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed()

/**
 * Strings of `min..max` code points for property tests: short composite
 * graphemes, any code point at any length of the range, and both ends of it
 * exactly (fast-check alone rarely reaches a 1024-character maximum).
 */
const codePointStrings = (fc: typeof FastCheck, min: number, max: number): FastCheck.Arbitrary<string> =>
  fc.oneof(
    fc.string({ unit: "grapheme", minLength: min, maxLength: Math.min(max, min + 40) }),
    fc.string({ unit: "binary", minLength: min, maxLength: max }),
    fc.constantFrom(min, max).chain((n) => fc.string({ unit: "binary", minLength: n, maxLength: n }))
  ).filter((s) => {
    const n = codePointLength(s)
    return n >= min && n <= max
  })

/**
 * U+0000 in stored text: PostgreSQL's `text` cannot hold it, so neither
 * backend accepts it (the same wire on both).
 */
const NUL_RULE = "must not contain U+0000 (NUL)"

/** A string of `min..max` code points that is well-formed Unicode (no lone surrogates); `stored` ones also without NUL. */
const CodePoints = (min: number, max: number, what: string, stored = false) =>
  Schema.String.pipe(
    Schema.filter((s) => {
      const n = codePointLength(s)
      if (n < min || n > max) return `must be ${min}..${max} characters (got ${n})`
      if (!isWellFormed(s)) return "must be well-formed Unicode text"
      if (stored && s.includes("\u0000")) return NUL_RULE
      return undefined
    }, {
      identifier: what,
      arbitrary: () => (fc) => codePointStrings(fc, min, max).filter((s) => !stored || !s.includes("\u0000"))
    })
  )

export const USERNAME_PATTERN = /^[A-Za-z0-9_-]{3,32}$/

/** A registered name: 3..32 of `A-Z a-z 0-9 _ -`, unique without regard to case. */
export const Username = Schema.String.pipe(
  Schema.pattern(USERNAME_PATTERN, {
    identifier: "Username",
    message: () => "must be 3..32 characters of A-Z a-z 0-9 _ -"
  })
)

/** A password: 8..1024 characters. */
export const Password = CodePoints(8, 1024, "Password")

/** Message text: 1..4096 characters, not only whitespace, no NUL; newlines allowed. */
export const Text = Schema.String.pipe(
  Schema.filter((s) => {
    const n = codePointLength(s)
    if (n < 1 || n > MAX_TEXT_CHARS) return `must be 1..${MAX_TEXT_CHARS} characters (got ${n})`
    if (s.trim().length === 0) return "must not be only whitespace"
    if (!isWellFormed(s)) return "must be well-formed Unicode text"
    if (s.includes("\u0000")) return NUL_RULE
    return undefined
  }, {
    identifier: "Text",
    arbitrary: () => (fc) => {
      const space = fc.string({ unit: fc.constantFrom(" ", "\t", "\n", "\r\n", "\u00a0", "\u3000"), maxLength: 8 })
      // newlines and padding around the words: the text rule must not trip on them
      const padded = fc.tuple(space, fc.string({ unit: "grapheme", minLength: 1, maxLength: 200 }), space)
        .map(([a, b, c]) => a + b + c)
      return fc.oneof(padded, codePointStrings(fc, 1, MAX_TEXT_CHARS)).filter((s) =>
        s.trim().length > 0 && codePointLength(s) <= MAX_TEXT_CHARS && !s.includes("\u0000")
      )
    }
  })
)

/** A client's idempotency key for MSG: 1..64 characters, no NUL. */
export const ClientMsgId = CodePoints(1, 64, "ClientMsgId", true)

/**
 * A password or token as CONNECT takes it: any string up to `max` characters.
 * Its shape is not checked here, so a malformed one fails as `AUTH_FAILED`.
 */
export const LoginSecret = (max: number, what: string) =>
  Schema.String.pipe(
    Schema.filter((s) => codePointLength(s) <= max || `must be at most ${max} characters`, {
      identifier: `LoginSecret(${what})`,
      arbitrary: () => (fc) =>
        what === "token" ? fc.stringMatching(/^[A-Za-z0-9_-]{16,64}$/) : codePointStrings(fc, 8, 64)
    })
  )

/** A login token as issued by CONNECTED: URL-safe text. */
export const Token = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9_-]{16,256}$/, {
    identifier: "Token",
    message: () => "must be a token as issued in CONNECTED (URL-safe text)"
  })
)

/**
 * A request id, echoed verbatim in the reply: a string or a JSON number (JSON
 * has no NaN or Infinity, so a reply could not echo them).
 */
export const RequestId = Schema.Union(
  Schema.String,
  Schema.JsonNumber.annotations({
    // JSON.stringify writes -0 as 0, the same JSON number: generate each number once
    arbitrary: () => (fc) =>
      fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })).filter((n) => !Object.is(n, -0))
  })
)
export type RequestId = typeof RequestId.Type

/** `messages.id`: a positive integer increasing in storage order. */
export const MessageId = Schema.Int.pipe(
  Schema.nonNegative({ message: () => "must be a non-negative integer message_id" }),
  Schema.annotations({ identifier: "MessageId" })
)

/** HISTORY page size: 1..100. */
export const Limit = Schema.Int.pipe(
  Schema.between(1, 100, { message: () => "must be an integer 1..100" }),
  Schema.annotations({ identifier: "Limit" })
)

/** A room name (protocol v1.2): the username rule, unique without regard to case. */
export const RoomName = Schema.String.pipe(
  Schema.pattern(USERNAME_PATTERN, {
    identifier: "RoomName",
    message: () => "must be 3..32 characters of A-Z a-z 0-9 _ -"
  })
)

/** The room every user is in: the public timeline of protocol v1. */
export const GENERAL_ROOM = "general"

/** One line of `0..max` characters: well-formed, without NUL or line breaks (a topic, a reason). */
const OneLine = (max: number, what: string) =>
  Schema.String.pipe(
    Schema.filter((s) => {
      const n = codePointLength(s)
      if (n > max) return `must be at most ${max} characters (got ${n})`
      if (!isWellFormed(s)) return "must be well-formed Unicode text"
      if (s.includes("\u0000")) return NUL_RULE
      if (/[\r\n]/.test(s)) return "must be one line (no line breaks)"
      return undefined
    }, {
      identifier: what,
      arbitrary: () => (fc) =>
        fc.string({ unit: "grapheme", maxLength: Math.min(max, 60) }).filter((s) =>
          codePointLength(s) <= max && !/[\r\n]/.test(s) && !s.includes("\u0000")
        )
    })
  )

/** A room's topic: 0..256 characters on one line. */
export const Topic = OneLine(256, "Topic")

/** Why a moderator acted: 0..256 characters on one line. */
export const Reason = OneLine(256, "Reason")

export const Visibility = Schema.Literal("public", "private")
export type Visibility = typeof Visibility.Type

export const Role = Schema.Literal("owner", "moderator", "member")
export type Role = typeof Role.Type

/** How long a ban or mute lasts: 1 s to a year. */
export const DurationS = Schema.Int.pipe(
  Schema.between(1, 31_536_000, { message: () => "must be an integer number of seconds 1..31536000" }),
  Schema.annotations({ identifier: "DurationS" })
)

/** An audit log entry's id (AUDIT paging). */
export const AuditId = Schema.Int.pipe(
  Schema.nonNegative({ message: () => "must be a non-negative integer audit entry id" }),
  Schema.annotations({ identifier: "AuditId" })
)

// names are the registered spelling, which the server controls; a client must
// not reject a whole frame (a HISTORY page) over a name registered under older rules
export const Name = Schema.String
/** ISO 8601 UTC with milliseconds, as `Date.prototype.toISOString` writes a real instant. */
export const Timestamp = Schema.String.pipe(
  Schema.pattern(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
  Schema.filter((s) => {
    const t = Date.parse(s)
    return !Number.isNaN(t) && new Date(t).toISOString() === s
  }, {
    identifier: "Timestamp",
    message: () => "must be an ISO 8601 UTC timestamp with milliseconds",
    arbitrary: () => (fc) =>
      fc.date({
        min: new Date("0000-01-01T00:00:00.000Z"),
        max: new Date("9999-12-31T23:59:59.999Z"),
        noInvalidDate: true
      }).map((d) => d.toISOString())
  })
)
