import { assert, describe, it } from "@effect/vitest"
import {
  type Command,
  commandNames,
  commandSchemas,
  decodeCommand,
  decodeEvent,
  encodeCommand,
  encodeFrame,
  encodeLine,
  Framer,
  quoteName,
  ServerFrame
} from "@parley/protocol"
import { Either, FastCheck as fc, Schema } from "effect"
import { command, conformantServerFrame, serverFrame } from "./Arbitraries.ts"

const runs = { fastCheck: { numRuns: 1000 } }
const utf8 = new TextDecoder("utf-8", { fatal: true })
const decodeServerFrame = Schema.decodeUnknownSync(ServerFrame)

// The field rules of the contract, restated independently of src/Fields.ts.
const codePoints = (s: string) => [...s].length
const wellFormed = (s: string) => !/\p{Surrogate}/u.test(s)
const isUsername = (s: unknown) => typeof s === "string" && /^[A-Za-z0-9_-]{3,32}$/.test(s)
const isPassword = (s: unknown) => typeof s === "string" && codePoints(s) >= 8 && codePoints(s) <= 1024 && wellFormed(s)
const isText = (s: unknown) =>
  typeof s === "string" && codePoints(s) >= 1 && codePoints(s) <= 4096 && /\S/.test(s) && wellFormed(s)
const isClientMsgId = (s: unknown) =>
  typeof s === "string" && codePoints(s) >= 1 && codePoints(s) <= 64 && wellFormed(s)
const isMessageId = (n: unknown) => Number.isSafeInteger(n) && (n as number) >= 0
const isLimit = (n: unknown) => Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 100
const isRoomName = (s: unknown) => isUsername(s)
const isOneLine = (s: unknown) =>
  typeof s === "string" && codePoints(s) <= 256 && wellFormed(s) && !/[\r\n]/.test(s) && !s.includes("\u0000")
const isVisibility = (s: unknown) => s === "public" || s === "private"
const isRole = (s: unknown) => s === "owner" || s === "moderator" || s === "member"
const isDuration = (n: unknown) => Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 31_536_000
const isId = (id: unknown) => typeof id === "string" || (typeof id === "number" && Number.isFinite(id))
const optional = <A>(value: A | undefined, rule: (a: A) => boolean) => value === undefined || rule(value)

/** Asserts that a command satisfies every rule the contract sets for its fields. */
const assertFieldRules = (c: Command) => {
  assert.isTrue(optional(c.id, isId), "id")
  switch (c.command) {
    case "REGISTER":
      assert.isTrue(isUsername(c.username), "username")
      assert.isTrue(isPassword(c.password), "password")
      return
    case "CONNECT":
      assert.isString(c.username)
      assert.notStrictEqual(c.password === undefined, c.token === undefined, "exactly one of password and token")
      assert.isTrue(optional(c.password, (p) => codePoints(p) <= 1024), "password")
      assert.isTrue(optional(c.token, (t) => codePoints(t) <= 512), "token")
      assert.isTrue(optional(c.resume_after, isMessageId), "resume_after")
      assert.isTrue(optional(c.rooms, (r) => typeof r === "boolean"), "rooms")
      return
    case "MSG":
      assert.isTrue(isText(c.text), "text")
      assert.isTrue(c.to === undefined || c.to === null || typeof c.to === "string", "to")
      assert.isTrue(optional(c.room, isRoomName), "room")
      assert.isFalse(c.room !== undefined && c.to !== undefined && c.to !== null, "room and to")
      assert.isTrue(optional(c.client_msg_id, isClientMsgId), "client_msg_id")
      return
    case "HISTORY":
      assert.isTrue(optional(c.with, (w) => w === null || typeof w === "string"), "with")
      assert.isTrue(optional(c.room, isRoomName), "room")
      assert.isFalse(c.room !== undefined && c.with !== undefined && c.with !== null, "room and with")
      assert.isTrue(optional(c.before, isMessageId), "before")
      assert.isTrue(optional(c.after, isMessageId), "after")
      assert.isTrue(optional(c.limit, isLimit), "limit")
      return
    case "READ":
      assert.isTrue(isMessageId(c.message_id), "message_id")
      assert.isTrue(optional(c.room, isRoomName), "room")
      return
    case "ROOM_CREATE":
      assert.isTrue(isRoomName(c.room) && isVisibility(c.visibility) && optional(c.topic, isOneLine))
      return
    case "TOPIC":
      assert.isTrue(isRoomName(c.room) && isOneLine(c.topic))
      return
    case "INVITE":
      assert.isTrue(isRoomName(c.room) && typeof c.user === "string")
      return
    case "JOIN":
    case "PART":
    case "MEMBERS":
    case "ROOM_DELETE":
      assert.isTrue(isRoomName(c.room), "room")
      return
    case "ROLE":
      assert.isTrue(isRoomName(c.room) && typeof c.user === "string" && isRole(c.role))
      return
    case "KICK":
      assert.isTrue(isRoomName(c.room) && typeof c.user === "string" && optional(c.reason, isOneLine))
      return
    case "BAN":
    case "MUTE":
      assert.isTrue(isRoomName(c.room) && typeof c.user === "string" && optional(c.reason, isOneLine))
      assert.isTrue(optional(c.duration_s, isDuration), "duration_s")
      return
    case "UNBAN":
    case "UNMUTE":
      assert.isTrue(isRoomName(c.room) && typeof c.user === "string")
      return
    case "AUDIT":
      assert.isTrue(isRoomName(c.room) && optional(c.before, isMessageId) && optional(c.limit, isLimit))
      return
    case "EDIT":
      assert.isTrue(isMessageId(c.message_id) && isText(c.text))
      return
    case "DELETE":
      assert.isTrue(isMessageId(c.message_id) && optional(c.reason, isOneLine))
      return
    case "LOCK":
      assert.isTrue(typeof c.user === "string" && optional(c.reason, isOneLine))
      return
    case "UNLOCK":
      assert.isTrue(typeof c.user === "string")
      return
    case "ROOMS":
      return
    case "REVOKE":
      assert.notStrictEqual(
        c.session_id === undefined,
        c.all_others === undefined,
        "exactly one of session_id and all_others"
      )
      assert.isTrue(optional(c.session_id, isMessageId), "session_id")
      assert.isTrue(c.all_others === undefined || c.all_others === true, "all_others")
      return
    case "USERS":
    case "SESSIONS":
    case "PING":
    case "DISCONNECT":
      return
  }
}

/** Asserts that a server frame follows the username and text rules wherever it carries them. */
const assertConformant = (frame: ServerFrame) => {
  assert.isTrue(optional("id" in frame ? frame.id : undefined, isId), "id")
  switch (frame.type) {
    case "REGISTERED":
      return assert.isTrue(isUsername(frame.username))
    case "CONNECTED":
      return assert.isTrue(isUsername(frame.user) && frame.online.every(isUsername))
    case "USERS":
      return assert.isTrue(frame.online.every(isUsername))
    case "PRESENCE":
      return assert.isTrue(isUsername(frame.user))
    case "RECEIPT":
      return assert.isTrue(isUsername(frame.by))
    case "MESSAGE":
      return assert.isTrue(isUsername(frame.from) && (frame.to === null || isUsername(frame.to)) && isText(frame.text))
    case "HISTORY":
      for (const m of frame.messages) {
        assert.isTrue(isUsername(m.from) && (m.to === null || isUsername(m.to)) && isText(m.text))
      }
      return
    case "ACK":
      return assert.isTrue(optional(frame.client_msg_id, isClientMsgId))
  }
}

/**
 * The value JSON carries: `Schema.optional` admits a key holding `undefined`,
 * which JSON writes as an absent key, the other spelling of the same value.
 */
const canonical = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(canonical)
  if (typeof value !== "object" || value === null) return value
  return Object.fromEntries(
    Object.entries(value).filter(([, v]) => v !== undefined).map(([k, v]) => [k, canonical(v)])
  )
}

/** A server frame's wire bytes are one line: the frame's JSON and one `\n`, at the end. */
const assertOneLine = (frame: ServerFrame): string => {
  const line = encodeLine(frame)
  assert.isTrue(line.endsWith("\n"))
  assert.strictEqual(line.indexOf("\n"), line.length - 1)
  assert.strictEqual(utf8.decode(encodeFrame(frame)), line)
  return line
}

describe("Codec: round trips", () => {
  it.prop("generated commands follow the field rules [1,000 runs]", [command], ([c]) => assertFieldRules(c), runs)

  it.prop(
    "decoding an encoded command gives the command back, through the framer too [1,000 runs]",
    [command],
    ([c]) => {
      const bytes = encodeCommand(c)
      const line = utf8.decode(bytes)
      assert.strictEqual(line.indexOf("\n"), line.length - 1)

      const direct = Either.getOrThrow(decodeCommand(line.slice(0, -1)))
      assert.isTrue(direct instanceof commandSchemas[c.command], `a ${c.command} instance`)
      assert.deepStrictEqual({ ...direct }, canonical({ ...c }))
      assert.deepStrictEqual(encodeCommand(direct), bytes)

      const events = new Framer().feed(bytes)
      assert.strictEqual(events.length, 1)
      assert.strictEqual(events[0]!._tag, "Line")
      const framed = Either.getOrThrow(decodeEvent(events[0] as { _tag: "Line"; text: string }))
      assert.deepStrictEqual({ ...framed }, canonical({ ...c }))
    },
    runs
  )

  it.prop(
    "decoding an encoded server frame gives the frame back (any string content) [1,000 runs]",
    [serverFrame],
    ([frame]) => {
      const line = assertOneLine(frame)
      const decoded = decodeServerFrame(JSON.parse(line))
      assert.deepStrictEqual(decoded, canonical(frame))
      assert.strictEqual(encodeLine(decoded), line)
    },
    runs
  )

  it.prop("decoding an encoded server frame gives the frame back (as the server sends them) [1,000 runs]", [
    conformantServerFrame
  ], ([frame]) => {
    assertConformant(frame)
    const bytes = encodeFrame(frame)
    // the client reads server frames with the same framer (a HISTORY page may pass 64 KiB)
    const events = new Framer(bytes.length).feed(bytes)
    assert.strictEqual(events.length, 1)
    const event = events[0]!
    assert.strictEqual(event._tag, "Line")
    if (event._tag === "Line") {
      assert.strictEqual(event.text + "\n", assertOneLine(frame))
      const decoded = decodeServerFrame(JSON.parse(event.text))
      assert.deepStrictEqual(decoded, canonical(frame))
      assert.deepStrictEqual(encodeFrame(decoded), bytes)
    }
  }, runs)
})

/**
 * What the contract says a JSON value classifies as, before any field rule:
 * the expected error tag (or "fields" when the command's schema decides) and the id to echo.
 */
const classify = (json: unknown): { readonly outcome: string; readonly id?: unknown } => {
  if (typeof json !== "object" || json === null || Array.isArray(json)) return { outcome: "InvalidCommand" }
  const frame = json as Record<string, unknown>
  if ("id" in frame && !isId(frame.id)) return { outcome: "InvalidCommand" }
  const id = frame.id
  if (typeof frame.command !== "string") return { outcome: "InvalidCommand", id }
  if (!(commandNames as ReadonlyArray<string>).includes(frame.command)) return { outcome: "UnknownCommand", id }
  return { outcome: "fields", id }
}

const fieldNames = [
  "username",
  "password",
  "token",
  "resume_after",
  "text",
  "to",
  "client_msg_id",
  "with",
  "before",
  "after",
  "limit",
  "message_id",
  "session_id",
  "all_others",
  "room",
  "rooms",
  "visibility",
  "topic",
  "user",
  "role",
  "reason",
  "duration_s",
  "from",
  "type"
] as const

/** Values a field may be sent with: any JSON, and values at the edges of the field rules. */
const fieldValue = fc.oneof(
  fc.jsonValue(),
  fc.constant(null),
  fc.integer({ min: -2, max: 102 }),
  fc.double(),
  fc.string({ unit: "binary", maxLength: 70 }),
  fc.stringMatching(/^[A-Za-z0-9_-]{1,40}$/),
  fc.constantFrom(0, 1, 2, 7, 8, 31, 32, 33, 63, 64, 65, 1023, 1024, 1025, 4095, 4096, 4097)
    .chain((n) => fc.constantFrom("a", " ", "😀", "\n").map((u) => u.repeat(n)))
)

/** JSON objects that look like commands: whitelisted, near-miss and hostile names, any fields. */
const commandLike = fc.record({
  command: fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...commandNames) },
    { weight: 1, arbitrary: fc.constantFrom("msg", "Ping", "PING ", "", "__proto__", "toString", "constructor") },
    { weight: 1, arbitrary: fc.jsonValue() }
  ),
  id: fc.oneof(
    { weight: 4, arbitrary: fc.oneof(fc.string(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true })) },
    { weight: 1, arbitrary: fc.jsonValue() }
  ),
  fields: fc.dictionary(fc.constantFrom(...fieldNames), fieldValue)
}, { requiredKeys: ["fields"] }).map(({ fields, ...rest }) => ({ ...fields, ...rest }))

/** A valid command with one field dropped, one field replaced, or both. */
const mutatedCommand = fc.record({
  c: command,
  drop: fc.option(fc.constantFrom(...fieldNames), { nil: undefined }),
  set: fc.option(fc.tuple(fc.constantFrom(...fieldNames), fieldValue), { nil: undefined })
}).map(({ c, drop, set }) => {
  const json = JSON.parse(JSON.stringify(c)) as Record<string, unknown>
  if (drop !== undefined) delete json[drop]
  if (set !== undefined) json[set[0]] = set[1]
  return json
})

describe("Codec: any input is a command or a typed error", () => {
  it.prop("arbitrary text [1,000 runs]", [fc.string({ unit: "binary" })], ([line]) => {
    const result = decodeCommand(line)
    let json: unknown
    try {
      json = JSON.parse(line)
    } catch {
      assert.isTrue(Either.isLeft(result) && result.left.error._tag === "InvalidJson" && result.left.id === undefined)
      return
    }
    const expected = classify(json)
    if (expected.outcome !== "fields") {
      assert.isTrue(Either.isLeft(result))
      if (Either.isLeft(result)) {
        assert.strictEqual(result.left.error._tag, expected.outcome)
        assert.strictEqual(result.left.id, expected.id)
      }
    }
  }, runs)

  it.prop("arbitrary JSON and command-like objects are classified as the contract says [1,000 runs]", [
    fc.oneof(fc.jsonValue(), commandLike, mutatedCommand)
  ], ([json]) => {
    const result = decodeCommand(JSON.stringify(json))
    const expected = classify(json)
    assert.isTrue(Either.isRight(result) || result.left.id === expected.id, "the id is echoed when it can be read")
    if (expected.outcome !== "fields") {
      assert.isTrue(Either.isLeft(result) && result.left.error._tag === expected.outcome)
      return
    }
    const frame = json as Record<string, unknown> & { readonly command: Command["command"] }
    const failing = failingFields(frame)
    if (Either.isRight(result)) {
      assert.deepStrictEqual(failing, [])
      assert.strictEqual(result.right.command, frame.command)
      assert.strictEqual(result.right.id, expected.id)
      assertFieldRules(result.right)
      // unknown fields never reach the command
      assert.isFalse("from" in result.right || "type" in result.right)
    } else {
      assert.strictEqual(result.left.error._tag, "InvalidCommand")
      const named = result.left.error.message.split(":")[0]!
      assert.include(failing, named, `${result.left.error.message} names a failing field`)
    }
  }, runs)
})

/** The fields of a whitelisted command that break the contract's rules, by an independent reading. */
const failingFields = (frame: Record<string, unknown> & { readonly command: Command["command"] }) => {
  const failing: Array<string> = []
  const field = (name: string, rule: (u: unknown) => boolean, required = false) => {
    if (Object.hasOwn(frame, name) ? !rule(frame[name]) : required) failing.push(name)
  }
  const anyString = (u: unknown) => typeof u === "string"
  switch (frame.command) {
    case "REGISTER":
      field("username", isUsername, true)
      field("password", isPassword, true)
      break
    case "CONNECT":
      field("username", anyString, true)
      field("password", (u) => anyString(u) && codePoints(u as string) <= 1024)
      field("token", (u) => anyString(u) && codePoints(u as string) <= 512)
      field("resume_after", isMessageId)
      field("rooms", (u) => typeof u === "boolean")
      if (failing.length === 0 && Object.hasOwn(frame, "password") === Object.hasOwn(frame, "token")) {
        failing.push("password/token")
      }
      break
    case "MSG":
      field("text", isText, true)
      field("to", (u) => u === null || anyString(u))
      field("room", isRoomName)
      field("client_msg_id", isClientMsgId)
      if (failing.length === 0 && Object.hasOwn(frame, "room") && frame.to !== undefined && frame.to !== null) {
        failing.push("room/to")
      }
      break
    case "HISTORY":
      field("with", (u) => u === null || anyString(u))
      field("room", isRoomName)
      field("before", isMessageId)
      field("after", isMessageId)
      field("limit", isLimit)
      if (failing.length === 0 && Object.hasOwn(frame, "room") && frame.with !== undefined && frame.with !== null) {
        failing.push("room/with")
      }
      break
    case "READ":
      field("room", isRoomName)
      field("message_id", isMessageId, true)
      break
    case "ROOM_CREATE":
      field("room", isRoomName, true)
      field("visibility", isVisibility, true)
      field("topic", isOneLine)
      break
    case "TOPIC":
      field("room", isRoomName, true)
      field("topic", isOneLine, true)
      break
    case "INVITE":
      field("room", isRoomName, true)
      field("user", anyString, true)
      break
    case "JOIN":
    case "PART":
    case "MEMBERS":
    case "ROOM_DELETE":
      field("room", isRoomName, true)
      break
    case "ROLE":
      field("room", isRoomName, true)
      field("user", anyString, true)
      field("role", isRole, true)
      break
    case "KICK":
    case "BAN":
    case "MUTE":
      field("room", isRoomName, true)
      field("user", anyString, true)
      if (frame.command !== "KICK") field("duration_s", isDuration)
      field("reason", isOneLine)
      break
    case "UNBAN":
    case "UNMUTE":
      field("room", isRoomName, true)
      field("user", anyString, true)
      break
    case "AUDIT":
      field("room", isRoomName, true)
      field("before", isMessageId)
      field("limit", isLimit)
      break
    case "EDIT":
      field("message_id", isMessageId, true)
      field("text", isText, true)
      break
    case "DELETE":
      field("message_id", isMessageId, true)
      field("reason", isOneLine)
      break
    case "LOCK":
      field("user", anyString, true)
      field("reason", isOneLine)
      break
    case "UNLOCK":
      field("user", anyString, true)
      break
    case "REVOKE":
      field("session_id", isMessageId)
      field("all_others", (u) => typeof u === "boolean")
      if (
        failing.length === 0 &&
        (Object.hasOwn(frame, "session_id") === Object.hasOwn(frame, "all_others") || frame.all_others === false)
      ) failing.push("session_id/all_others")
      break
  }
  return failing
}

describe("Codec: quoted names", () => {
  it("an unknown command's name is quoted, cut to 64 characters and to 100 characters of JSON, so the message stays under 200", () => {
    for (
      const name of [
        "\u0000".repeat(64),
        "\ud800".repeat(70),
        "\u0001\u001f".repeat(40),
        "C".repeat(10_000),
        "😀".repeat(100)
      ]
    ) {
      const result = decodeCommand(JSON.stringify({ command: name, id: 1 }))
      assert.isTrue(Either.isLeft(result))
      const message = Either.isLeft(result) ? result.left.error.message : ""
      assert.isAtMost(message.length, 200, message)
      const quoted = JSON.parse(message.slice("unknown command ".length)) as string
      assert.isTrue(name.startsWith(quoted), message)
      assert.isAtMost([...quoted].length, 64, message)
    }
    assert.strictEqual(quoteName("PONG"), "\"PONG\"")
    assert.strictEqual(quoteName("C".repeat(100)), JSON.stringify("C".repeat(64)))
  })
})
