/**
 * Hostile client lines for the wire fuzz test, and the contract's verdict on
 * each: a seeded generator of lines (valid commands, mutated ones, deep and
 * wide values, huge numbers, invalid UTF-8, NUL, lone surrogates, oversized
 * and blank lines, duplicate keys, unknown commands) and `classify`, which
 * says from the bytes alone what the server must answer. The verdict is
 * worked out from the contract's rules with `JSON.parse` (the JSON the
 * contract means), not by asking the server's decoder.
 */
import { MAX_FRAME_BYTES, MAX_NESTING } from "@parley/protocol"

/** A small, fast, seeded PRNG (mulberry32): the same seed gives the same lines. */
export class Rng {
  constructor(private state: number) {}

  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) | 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  /** An integer in `[lo, hi]`. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1))
  }

  pick<A>(items: ReadonlyArray<A>): A {
    return items[Math.floor(this.next() * items.length)]!
  }

  chance(p: number): boolean {
    return this.next() < p
  }
}

/** The commands a fuzzed line may name; DISCONNECT only where a test puts it on purpose. */
export const FUZZED_COMMANDS = ["REGISTER", "CONNECT", "MSG", "HISTORY", "READ", "USERS", "PING"] as const
const WHITELIST = new Set<string>([...FUZZED_COMMANDS, "DISCONNECT"])
const FIELDS = [
  "username",
  "password",
  "token",
  "text",
  "to",
  "with",
  "client_msg_id",
  "message_id",
  "before",
  "after",
  "limit",
  "resume_after",
  "id",
  "command"
] as const

/** What the server must answer a line with. */
export type Verdict =
  | { readonly kind: "none" }
  | { readonly kind: "error"; readonly code: string; readonly id: IdEcho }
  | { readonly kind: "command"; readonly name: string; readonly id: IdEcho; readonly valid: boolean }

/** The `id` a reply must carry: absent, or this value. */
export type IdEcho = { readonly present: false } | { readonly present: true; readonly value: string | number }

export interface Case {
  /** The line's bytes, terminator excluded. */
  readonly bytes: Buffer
  readonly terminator: "\n" | "\r\n"
  readonly verdict: Verdict
}

/** Accounts the fuzz server holds before the lines are sent, and their password. */
export interface Accounts {
  readonly names: ReadonlyArray<string>
  readonly password: string
}

const fatalUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
const absent: IdEcho = { present: false }

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)

/** Whether a value nests arrays and objects more than `max` levels (the frame itself is level 1). */
const deeperThan = (value: unknown, max: number): boolean => {
  const stack: Array<[unknown, number]> = [[value, 1]]
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!
    if (typeof v !== "object" || v === null) continue
    if (depth > max) return true
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1])
  }
  return false
}

/**
 * The contract's verdict on one line (terminator excluded): ignored when
 * blank, FRAME_TOO_LARGE past the limit, INVALID_JSON when not UTF-8 JSON,
 * INVALID_COMMAND when not an object or its id is neither string nor number,
 * UNKNOWN_COMMAND for a name off the whitelist; otherwise a command, answered
 * according to the connection's state. A value nested past the server's
 * announced MAX_NESTING is INVALID_COMMAND whatever the command.
 */
export const classify = (bytes: Uint8Array, valid = false): Verdict => {
  if (bytes.length > MAX_FRAME_BYTES) return { kind: "error", code: "FRAME_TOO_LARGE", id: absent }
  let text: string
  try {
    text = fatalUtf8.decode(bytes)
  } catch {
    return { kind: "error", code: "INVALID_JSON", id: absent }
  }
  if (text.trim().length === 0) return { kind: "none" }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    return { kind: "error", code: "INVALID_JSON", id: absent }
  }
  if (!isObject(json)) return { kind: "error", code: "INVALID_COMMAND", id: absent }
  let id: IdEcho = absent
  if (Object.hasOwn(json, "id")) {
    const raw = json.id
    if (!(typeof raw === "string" || (typeof raw === "number" && Number.isFinite(raw)))) {
      return { kind: "error", code: "INVALID_COMMAND", id: absent }
    }
    id = { present: true, value: raw }
  }
  if (deeperThan(json, MAX_NESTING)) return { kind: "error", code: "INVALID_COMMAND", id }
  const name = json.command
  if (typeof name !== "string") return { kind: "error", code: "INVALID_COMMAND", id }
  if (!WHITELIST.has(name)) return { kind: "error", code: "UNKNOWN_COMMAND", id }
  return { kind: "command", name, id, valid }
}

// ---- values ----

const HUGE = [
  "1e308",
  "-1e308",
  "-0",
  "9007199254740993",
  "-9007199254740993",
  "1e400",
  "-1e400",
  "1e-400",
  "123456789012345678901234567890",
  "0.5",
  "-1",
  "0",
  "1",
  "4.5e15",
  "2E0",
  "1.0",
  "100",
  "101"
]
const WRONG_TYPES = [
  "null",
  "true",
  "false",
  "[]",
  "{}",
  "\"\"",
  "[1,2,3]",
  "{\"x\":1}",
  "[null]",
  "{\"command\":\"PING\"}"
]
const UNITS = [
  "a",
  "Z",
  "0",
  "_",
  "-",
  " ",
  "é",
  "€",
  "中",
  "😀",
  "\n",
  "\t",
  "\r",
  "\"",
  "\\",
  "/",
  "\u2028",
  "\u00a0",
  "\u0000",
  "\ud800",
  "\udc00",
  "\udbff",
  "\u0001",
  "\u007f",
  "\ufffe"
]
const BAD_NAMES = [
  "ab",
  "a".repeat(33),
  "bad name",
  "ÄÖÜ",
  "x!y",
  "",
  " fz_alice",
  "fz_alice\u0000",
  "😀😀😀",
  "\u0000".repeat(64),
  "\udc00".repeat(65)
]

/** A string of `n` code units drawn from characters that tend to break things. */
const oddString = (rng: Rng, n: number): string => {
  let s = ""
  for (let i = 0; i < n; i++) s += rng.pick(UNITS)
  return s
}

/** Text a MSG accepts: 1..4096 characters, not blank, well-formed, no NUL. */
export const validText = (rng: Rng): string => {
  const n = rng.chance(0.01) ? 4096 : rng.int(1, rng.chance(0.1) ? 600 : 60)
  let s = ""
  for (let i = 0; i < n; i++) s += rng.pick(["a", "b", "é", "中", "😀", " ", "\n", "x", "y", "z", "\"", "\\"])
  // a code point count of exactly n, and at least one non-blank character
  return "w" + [...s].slice(1).join("")
}

/** A JSON value of a type and size that no field accepts, or only at its edge. */
const hostile = (rng: Rng, accounts: Accounts): string => {
  const r = rng.next()
  if (r < 0.25) return rng.pick(HUGE)
  if (r < 0.45) return rng.pick(WRONG_TYPES)
  if (r < 0.8) return JSON.stringify(oddString(rng, rng.int(0, 40)))
  if (r < 0.9) return JSON.stringify(rng.pick([...BAD_NAMES, ...accounts.names]))
  if (r < 0.95) return JSON.stringify("x".repeat(rng.pick([7, 8, 32, 33, 64, 65, 512, 1024, 1025])))
  if (r < 0.98) return JSON.stringify(rng.pick(["x", "é", "😀"]).repeat(rng.pick([4096, 4097])))
  if (r < 0.99) return JSON.stringify("x".repeat(20_000))
  return JSON.stringify(oddString(rng, rng.int(200, 2000)))
}

/** Arrays or objects nested `depth` levels around a leaf. */
export const deep = (rng: Rng): string => {
  const depth = rng.int(1000, 9000)
  const leaf = rng.pick(["1", "\"leaf\"", "null", "{}", "[]"])
  return rng.chance(0.5)
    ? "[".repeat(depth) + leaf + "]".repeat(depth)
    : "{\"a\":".repeat(depth) + leaf + "}".repeat(depth)
}

/** A very wide array or object of short items (or duplicate keys). */
export const wide = (rng: Rng): string => {
  const n = rng.int(500, 5000)
  const kind = rng.int(0, 2)
  if (kind === 0) return "[" + Array.from({ length: n }, (_, i) => (i % 2 === 0 ? `${i}` : `"v${i}"`)).join(",") + "]"
  if (kind === 1) return "{" + Array.from({ length: n }, (_, i) => `"k${i}":${i}`).join(",") + "}"
  return "{" + Array.from({ length: n }, (_, i) => `"k":${i}`).join(",") + "}"
}

// ---- frames ----

/** A frame as key/raw-JSON pairs, so keys can repeat and values can be any JSON text. */
type Pairs = Array<[string, string]>

const render = (pairs: Pairs, rng: Rng): string => {
  const gap = rng.chance(0.05) ? " " : ""
  return "{" + gap + pairs.map(([k, v]) => `${JSON.stringify(k)}:${gap}${v}`).join(`,${gap}`) + gap + "}"
}

/** Ids as clients send them: numbers and strings, unique on their connection. */
const freshId = (rng: Rng, serial: number): string =>
  rng.pick([
    () => String(serial),
    () => JSON.stringify(`r-${serial}`),
    () => `${serial}.5`,
    () => `-${serial}`,
    () => JSON.stringify(`ü-${serial}-😀`)
  ])()

/** The fields of a command that follows every rule (CONNECT's password is wrong: a login is never fuzzed in). */
const validFields = (name: string, rng: Rng, accounts: Accounts, serial: number): Pairs => {
  const someone = () => JSON.stringify(rng.pick(accounts.names))
  switch (name) {
    case "REGISTER":
      return [["username", someone()], ["password", JSON.stringify(accounts.password)]]
    case "CONNECT":
      return rng.chance(0.5)
        ? [["username", someone()], ["token", JSON.stringify(`not-a-token-${serial}`)]]
        : [["username", someone()], ["password", JSON.stringify("a wrong password")]]
    case "MSG": {
      const pairs: Pairs = [["text", JSON.stringify(validText(rng))]]
      if (rng.chance(0.3)) pairs.push(["to", rng.chance(0.8) ? someone() : JSON.stringify("nobody_here")])
      if (rng.chance(0.2)) pairs.push(["client_msg_id", JSON.stringify(`c-${serial % 500}`)])
      return pairs
    }
    case "HISTORY": {
      const pairs: Pairs = [["limit", String(rng.chance(0.9) ? rng.int(1, 5) : rng.int(1, 100))]]
      if (rng.chance(0.3)) pairs.push(["with", someone()])
      if (rng.chance(0.3)) pairs.push([rng.pick(["before", "after"]), String(rng.int(0, 50_000))])
      return pairs
    }
    case "READ":
      return [["message_id", String(rng.int(0, 50_000))]]
    default:
      return []
  }
}

/** A command that follows every rule, with an id most of the time. */
const validCommand = (name: string, rng: Rng, accounts: Accounts, serial: number): Pairs => {
  const pairs: Pairs = [["command", JSON.stringify(name)], ...validFields(name, rng, accounts, serial)]
  if (rng.chance(0.7)) pairs.push(["id", freshId(rng, serial)])
  return pairs
}

const COMMAND_VARIANTS = (name: string): ReadonlyArray<string> => [
  name.toLowerCase(),
  ` ${name}`,
  `${name} `,
  `${name}\u0000`,
  `${name}\n`,
  "",
  "__proto__",
  "constructor",
  "hasOwnProperty",
  "toString",
  "SESSIONS_X",
  "C".repeat(10_000),
  `${name}${name}`,
  "ΡΙΝG",
  // characters JSON escapes to six: a quoted name of them is six times its length
  "\u0000".repeat(64),
  "\ud800".repeat(70),
  "\u0001\u001f".repeat(40)
]
const ODD_KEYS = [
  "__proto__",
  "constructor",
  "prototype",
  "toString",
  "",
  "x_junk",
  "k".repeat(5000),
  "ID",
  "Command",
  "\u0000"
]

/** One change to a command: a hostile value, a missing field, an extra or repeated key, an odd name or id. */
const mutate = (pairs: Pairs, rng: Rng, accounts: Accounts): void => {
  const r = rng.next()
  if (r < 0.4) {
    const field = rng.chance(0.6) && pairs.length > 1 ? pairs[rng.int(1, pairs.length - 1)]![0] : rng.pick(FIELDS)
    const at = pairs.findIndex(([k]) => k === field)
    const value = hostile(rng, accounts)
    if (at === -1) pairs.push([field, value])
    else pairs[at] = [field, value]
  } else if (r < 0.55) {
    if (pairs.length > 1) pairs.splice(rng.int(1, pairs.length - 1), 1)
  } else if (r < 0.7) {
    pairs.push([rng.pick(ODD_KEYS), hostile(rng, accounts)])
  } else if (r < 0.8) {
    const [k] = rng.pick(pairs)
    pairs.push([k, k === "command" ? JSON.stringify(rng.pick(FUZZED_COMMANDS)) : hostile(rng, accounts)])
  } else if (r < 0.9) {
    const current: unknown = JSON.parse(pairs[0]![1])
    const name = typeof current === "string" ? current : "PING"
    pairs[0] = ["command", rng.chance(0.8) ? JSON.stringify(rng.pick(COMMAND_VARIANTS(name))) : hostile(rng, accounts)]
  } else {
    const at = pairs.findIndex(([k]) => k === "id")
    const value = rng.chance(0.5)
      ? hostile(rng, accounts)
      : rng.pick(["null", "true", "[]", "{}", "1e400", "-0", "9007199254740993", "1e308"])
    if (at === -1) pairs.push(["id", value])
    else pairs[at] = ["id", value]
  }
}

// ---- lines ----

const utf8 = (s: string) => Buffer.from(s, "utf8")

/** Bytes that break UTF-8: stray continuation bytes, cut sequences, encoded surrogates, overlongs, past U+10FFFF. */
const BAD_UTF8 = [[0xff], [0xc3], [0xe2, 0x82], [0xc0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x80], [0xfe, 0xfe]]
/** A lone surrogate and an emoji as CESU-8 (each half encoded on its own): not UTF-8. */
const RAW_SURROGATES = [[0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], [0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80]]
const GARBAGE = [
  "{",
  "}",
  "{\"command\":",
  "PING",
  "[1,2",
  "nul",
  "{'command':'PING'}",
  "{\"command\":\"PING\",}",
  "NaN",
  "Infinity",
  "{\"command\":\"PING\"} {\"command\":\"PING\"}",
  "// comment",
  "{\"command\":\"PING\" /* c */}",
  "\"unterminated",
  "{\"command\":\"PING\"}}",
  "{{}}",
  "{\"a\":01}",
  "{\"a\":.5}",
  "{\"a\":+1}",
  "{\"a\":0x10}",
  "{\"a\":\"\\x41\"}",
  "{\"a\":\"\\u12\"}"
]
const NON_OBJECTS = ["1", "-0", "1e400", "\"PING\"", "[{\"command\":\"PING\"}]", "null", "true", "[]", "\"\"", "[[[]]]"]
const BLANKS = ["", " ", "\t", "  \t  ", "\u00a0", "\u3000", "\ufeff", " \u2028 "]

/** `bytes` with `insert` spliced in at a random place. */
const splice = (rng: Rng, bytes: Buffer, insert: ReadonlyArray<number>): Buffer => {
  const at = rng.int(0, bytes.length)
  return Buffer.concat([bytes.subarray(0, at), Buffer.from(insert), bytes.subarray(at)])
}

/** A line just under, at or just over the frame limit: a PING padded to `size` bytes. */
const sizedPing = (size: number, serial: number): Buffer => {
  const head = `{"command":"PING","id":${serial},"pad":"`
  return utf8(head + "x".repeat(Math.max(0, size - head.length - 2)) + "\"}")
}

/** An oversized line: 64 KiB and a bit, now and then a few MiB. */
const oversized = (rng: Rng, serial: number): Buffer => {
  const size = rng.chance(0.02) ? rng.int(1_000_000, 3_000_000) : rng.int(MAX_FRAME_BYTES + 1, MAX_FRAME_BYTES + 70_000)
  const line = rng.chance(0.5) ? sizedPing(size, serial) : Buffer.alloc(size, rng.pick(["{", "[", "é", "x"]))
  return line.subarray(0, size)
}

type Maker = (rng: Rng, accounts: Accounts, serial: number) => { readonly bytes: Buffer; readonly valid?: boolean }

const command = (rng: Rng, accounts: Accounts, serial: number) =>
  validCommand(rng.pick(FUZZED_COMMANDS), rng, accounts, serial)

const withField = (rng: Rng, accounts: Accounts, serial: number, value: string): Buffer => {
  const pairs = command(rng, accounts, serial)
  pairs.push([rng.pick(FIELDS), value])
  return utf8(render(pairs, rng))
}

/** Every kind of line, with its weight per 1000. */
const MAKERS: ReadonlyArray<readonly [number, Maker]> = [
  [250, (rng, a, n) => ({ bytes: utf8(render(command(rng, a, n), rng)), valid: true })],
  [370, (rng, a, n) => {
    const pairs = command(rng, a, n)
    for (let i = rng.int(1, 3); i > 0; i--) mutate(pairs, rng, a)
    return { bytes: utf8(render(pairs, rng)) }
  }],
  [40, (rng, a, n) => {
    const pairs = command(rng, a, n)
    pairs[0] = ["command", JSON.stringify(rng.pick(COMMAND_VARIANTS(rng.pick(FUZZED_COMMANDS))))]
    return { bytes: utf8(render(pairs, rng)) }
  }],
  [10, (rng, a, n) => ({ bytes: withField(rng, a, n, deep(rng)) })],
  [5, (rng, a, n) => ({ bytes: withField(rng, a, n, wide(rng)) })],
  [30, (rng, a, n) => ({ bytes: withField(rng, a, n, rng.pick(HUGE)) })],
  [2, (rng, _a, n) => ({ bytes: oversized(rng, n) })],
  [2, (rng, _a, n) => ({ bytes: sizedPing(MAX_FRAME_BYTES + rng.int(-1, 1), n) })],
  [30, (rng) => ({ bytes: utf8(rng.pick(BLANKS)) })],
  [30, (rng, a, n) => ({ bytes: splice(rng, utf8(render(command(rng, a, n), rng)), rng.pick(BAD_UTF8)) })],
  [20, (rng, a, n) => ({ bytes: splice(rng, utf8(render(command(rng, a, n), rng)), [0]) })],
  [20, (rng, a, n) => ({ bytes: splice(rng, utf8(render(command(rng, a, n), rng)), rng.pick(RAW_SURROGATES)) })],
  [40, (rng) => ({ bytes: utf8(rng.chance(0.7) ? rng.pick(GARBAGE) : oddString(rng, rng.int(1, 30))) })],
  [20, (rng) => ({ bytes: utf8(rng.chance(0.9) ? rng.pick(NON_OBJECTS) : deep(rng)) })],
  [40, (rng, a, n) => {
    const pairs = command(rng, a, n)
    const [k] = rng.pick(pairs)
    pairs.push([
      k,
      k === "command"
        ? JSON.stringify(rng.pick(FUZZED_COMMANDS))
        : rng.chance(0.5)
        ? hostile(rng, a)
        : pairs.find(([x]) => x === k)![1]
    ])
    if (rng.chance(0.3)) pairs.unshift(...pairs.slice(0, 2))
    return { bytes: utf8(render(pairs, rng)) }
  }],
  [30, (rng, a, n) => {
    const pairs = command(rng, a, n).filter(([k]) => k !== "id")
    pairs.push([
      "id",
      rng.pick(["null", "true", "false", "[]", "{}", "1e400", "-1e400", "[1]", "{\"id\":1}", deep(rng)])
    ])
    return { bytes: utf8(render(pairs, rng)) }
  }]
]
const TOTAL_WEIGHT = MAKERS.reduce((n, [w]) => n + w, 0)

/** A line's bytes as a client may send them: no newline inside, no `\r` last (that would be terminator). */
const asLine = (bytes: Buffer): Buffer => {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 10) bytes[i] = 32
  if (bytes.length > 0 && bytes[bytes.length - 1] === 13) bytes[bytes.length - 1] = 32
  return bytes
}

/** One generated line with its verdict; never a DISCONNECT (a test places those itself). */
export const generateCase = (rng: Rng, accounts: Accounts, serial: number): Case => {
  for (;;) {
    let pick = rng.next() * TOTAL_WEIGHT
    let maker = MAKERS[0]![1]
    for (const [w, m] of MAKERS) {
      if (pick < w) {
        maker = m
        break
      }
      pick -= w
    }
    const made = maker(rng, accounts, serial)
    const bytes = asLine(Buffer.from(made.bytes))
    const verdict = classify(bytes, made.valid === true)
    if (verdict.kind === "command" && verdict.name === "DISCONNECT") continue
    return { bytes, terminator: rng.chance(0.2) ? "\r\n" : "\n", verdict }
  }
}

/** A line from a frame object that follows every rule (a login, a DISCONNECT, a barrier PING). */
export const deliberate = (frame: Readonly<Record<string, unknown>>): Case => {
  const bytes = utf8(JSON.stringify(frame))
  return { bytes, terminator: "\n", verdict: classify(bytes, true) }
}

// ---- the check ----

/** A frame as the server sent it. */
export type Reply = { readonly type: string; readonly [field: string]: unknown }

/** Frames the server sends unrequested; everything else answers exactly one line. */
export const EVENTS = new Set(["MESSAGE", "PRESENCE", "RECEIPT", "TRUNCATED"])

type State = "guest" | "member"

/** Each command's replies by the contract's table, once its fields passed their rules and its login rule holds. */
const OUTCOMES: Readonly<Record<string, ReadonlyArray<string>>> = {
  REGISTER: ["REGISTERED", "ERROR:USERNAME_TAKEN", "ERROR:RATE_LIMITED"],
  CONNECT: ["CONNECTED", "ERROR:AUTH_FAILED", "ERROR:RATE_LIMITED"],
  MSG: ["ACK", "ERROR:UNKNOWN_USER"],
  HISTORY: ["HISTORY", "ERROR:UNKNOWN_USER"],
  READ: ["OK", "ERROR:NOT_FOUND"],
  USERS: ["USERS"],
  PING: ["PONG"],
  DISCONNECT: ["BYE"]
}
const ACCESS: Readonly<Record<string, "guest" | "member" | "any">> = {
  REGISTER: "guest",
  CONNECT: "guest",
  MSG: "member",
  HISTORY: "member",
  READ: "member",
  USERS: "member",
  PING: "any",
  DISCONNECT: "any"
}

/** The replies the contract allows to a line with this verdict, on a connection in `state`. */
export const allowed = (verdict: Exclude<Verdict, { kind: "none" }>, state: State): ReadonlyArray<string> => {
  if (verdict.kind === "error") return [`ERROR:${verdict.code}`]
  const access = ACCESS[verdict.name]!
  const ok = access === "member" && state === "guest"
    ? ["ERROR:NOT_AUTHENTICATED"]
    : access === "guest" && state === "member"
    ? ["ERROR:ALREADY_AUTHENTICATED"]
    : OUTCOMES[verdict.name]!
  return verdict.valid ? ok : [...ok, "ERROR:INVALID_COMMAND"]
}

const keyOf = (reply: Reply): string => (reply.type === "ERROR" ? `ERROR:${String(reply.code)}` : reply.type)

/**
 * Longest run of what was sent that an error message may repeat: a name the
 * server quotes is cut to 64 characters, and the quotes around it may happen
 * to match the characters before and after it.
 */
const MAX_ECHO = 66

/** A message with the JSON escapes of quoted names undone, so it compares with the strings that were sent. */
const unescape = (message: string): string =>
  message.replace(
    /\\(?:u([0-9a-fA-F]{4})|(["\\/bfnrt]))/g,
    (_, hex: string | undefined, c: string | undefined) =>
      hex !== undefined
        ? String.fromCharCode(parseInt(hex, 16))
        : ({ b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" } as Record<string, string>)[c!] ?? c!
  )

/** Every string in a parsed line, keys included, one after another. */
const stringsOf = (line: string): string => {
  const out: Array<string> = []
  let parsed: unknown
  try {
    parsed = JSON.parse(line)
  } catch {
    return line
  }
  const stack: Array<unknown> = [parsed]
  while (stack.length > 0) {
    const v = stack.pop()
    if (typeof v === "string") out.push(v)
    else if (typeof v === "object" && v !== null) {
      for (const [k, child] of Object.entries(v)) {
        out.push(k)
        stack.push(child)
      }
    }
  }
  return out.join("\uffff")
}

/** Whether an error message repeats more than MAX_ECHO characters (code points) in a row of a string the line held. */
const echoes = (message: string, c: Case): boolean => {
  const plain = [...unescape(message)]
  if (plain.length <= MAX_ECHO) return false
  const sent = stringsOf(c.bytes.toString("utf8"))
  for (let i = 0; i + MAX_ECHO < plain.length; i++) {
    if (sent.includes(plain.slice(i, i + MAX_ECHO + 1).join(""))) return true
  }
  return false
}

/** What is wrong with one reply to one line (undefined: nothing). */
const judge = (
  c: Case,
  verdict: Exclude<Verdict, { kind: "none" }>,
  reply: Reply,
  state: State
): string | undefined => {
  const key = keyOf(reply)
  const ok = allowed(verdict, state)
  if (!ok.includes(key)) return `got ${key}, expected one of ${ok.join(" ")} (${state})`
  const expectedId = verdict.id.present ? JSON.stringify(verdict.id.value) : undefined
  const gotId = Object.hasOwn(reply, "id") ? JSON.stringify(reply.id) : undefined
  if (gotId !== expectedId) return `id ${gotId ?? "absent"}, expected ${expectedId ?? "absent"}`
  if (reply.type !== "ERROR") return undefined
  const message = reply.message
  if (typeof message !== "string" || message.length === 0) return "an ERROR without a message"
  if (message.length > 200) return `an ERROR message of ${message.length} characters`
  if (echoes(message, c)) return "the ERROR message echoes the line"
  if (reply.code === "RATE_LIMITED" || reply.code === "UNAVAILABLE") {
    const after = reply.retry_after_ms
    if (typeof after !== "number" || !Number.isInteger(after) || after < 0) {
      return `${reply.code} without retry_after_ms`
    }
  }
  return undefined
}

export interface Problem {
  readonly line: number
  readonly sent: string
  readonly reply: string
  readonly why: string
}

export interface Tally {
  readonly problems: Array<Problem>
  /** Replies by type (ERRORs by code). */
  readonly counts: Record<string, number>
  /** Lines that were owed a reply, and replies matched to them. */
  readonly owed: number
  readonly matched: number
}

/**
 * Walks the lines sent on one connection beside the replies received on it,
 * in order (the server answers a connection's requests in order): each line
 * owed a reply takes the next reply, which must be one the contract allows
 * there and echo its id. A CONNECTED makes the connection a member; after a
 * BYE nothing more is owed. Every reply must be used up.
 */
export const walk = (cases: ReadonlyArray<Case>, replies: ReadonlyArray<Reply>, state: State = "guest"): Tally => {
  const problems: Array<Problem> = []
  const counts: Record<string, number> = {}
  let next = 0
  let owed = 0
  const report = (line: number, reply: Reply | undefined, why: string) => {
    if (problems.length < 20) {
      problems.push({
        line,
        sent: cases[line]!.bytes.toString("utf8").slice(0, 200),
        reply: JSON.stringify(reply)?.slice(0, 300) ?? "none",
        why
      })
    }
  }
  for (let i = 0; i < cases.length; i++) {
    const c = cases[i]!
    if (c.verdict.kind === "none") continue
    owed++
    const reply = replies[next]
    if (reply === undefined) {
      report(i, undefined, "no reply")
      break
    }
    next++
    counts[keyOf(reply)] = (counts[keyOf(reply)] ?? 0) + 1
    const why = judge(c, c.verdict, reply, state)
    if (why !== undefined) report(i, reply, why)
    if (reply.type === "CONNECTED") state = "member"
    if (reply.type === "BYE") break
  }
  if (next < replies.length) {
    report(cases.length - 1, replies[next], `${replies.length - next} replies more than lines owed one`)
  }
  return { problems, counts, owed, matched: next }
}
