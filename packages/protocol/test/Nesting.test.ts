/**
 * Values of any shape in any field: deeply nested, very wide, huge numbers.
 * Decoding never throws (no recursion reaches a client's value: the depth is
 * bounded before Schema sees it), and a refusal is a typed error whose
 * message is short and quotes nothing that was sent.
 */
import { assert, describe, it } from "@effect/vitest"
import { decodeCommand, MAX_NESTING } from "@parley/protocol"
import { Either, FastCheck as fc } from "effect"

const COMMANDS = [
  "REGISTER",
  "CONNECT",
  "MSG",
  "HISTORY",
  "READ",
  "USERS",
  "SESSIONS",
  "REVOKE",
  "PING",
  "DISCONNECT"
] as const
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
  "session_id",
  "all_others",
  "id",
  "command"
] as const

/** JSON text of a value nested `depth` levels of arrays or objects. */
const nested = (depth: number, kind: "array" | "object", leaf: string) =>
  kind === "array" ? "[".repeat(depth) + leaf + "]".repeat(depth) : "{\"a\":".repeat(depth) + leaf + "}".repeat(depth)

/** Wide values: long arrays and objects of short items. */
const wide = (n: number, kind: "array" | "object") =>
  kind === "array"
    ? "[" + Array.from({ length: n }, (_, i) => `"v${i}"`).join(",") + "]"
    : "{" + Array.from({ length: n }, (_, i) => `"k${i}":${i}`).join(",") + "}"

const SECRET = "zz-sent-value-zz"

const hostile = fc.oneof(
  fc.record({
    depth: fc.integer({ min: MAX_NESTING, max: 20_000 }),
    kind: fc.constantFrom("array" as const, "object" as const)
  })
    .map(({ depth, kind }) => nested(depth, kind, JSON.stringify(SECRET))),
  fc.record({ n: fc.integer({ min: 1, max: 5_000 }), kind: fc.constantFrom("array" as const, "object" as const) })
    .map(({ kind, n }) => wide(n, kind)),
  fc.constantFrom(
    "1e999",
    "-1e999",
    "1e308",
    "123456789012345678901234567890",
    "-0",
    "0.1",
    "9007199254740993",
    "null",
    "true",
    "\"\""
  ),
  fc.string({ maxLength: 50 }).map((s) => JSON.stringify(SECRET + s))
)

describe("hostile values in any field", () => {
  it.prop(
    "never throws; a refusal is INVALID_COMMAND or UNKNOWN_COMMAND with a short message that quotes no field's value [300 runs]",
    [fc.constantFrom(...COMMANDS), fc.constantFrom(...FIELDS), hostile],
    ([command, field, value]) => {
      const line = field === "command"
        ? `{"command":${value}}`
        : `{"command":"${command}","${field}":${value},"id":7}`
      const result = decodeCommand(line)
      if (Either.isRight(result)) return
      const { error } = result.left
      assert.include(["InvalidCommand", "UnknownCommand"], error._tag, error.message)
      assert.isAtMost(error.message.length, 200, error.message)
      // an unknown command's name is quoted, cut to 64 characters; field values never are
      if (error._tag !== "UnknownCommand") assert.notInclude(error.message, SECRET)
      assert.notInclude(error.message, "v1,")
    },
    { fastCheck: { numRuns: 300 } }
  )

  it("the depth bound is exact: a value nested to the limit decodes to a field error, one level more is refused as too deep", () => {
    // the frame object is level 1: a field value may nest MAX_NESTING - 1 levels
    const atLimit = decodeCommand(`{"command":"MSG","text":${nested(MAX_NESTING - 1, "array", "1")}}`)
    assert.isTrue(Either.isLeft(atLimit))
    assert.match(Either.isLeft(atLimit) ? atLimit.left.error.message : "", /^text: must be a string$/)
    const past = decodeCommand(`{"command":"MSG","id":"r1","text":${nested(MAX_NESTING, "object", "1")}}`)
    assert.deepStrictEqual(Either.isLeft(past) ? [past.left.error.message, past.left.id] : [], [
      `a command must not nest values more than ${MAX_NESTING} levels deep`,
      "r1"
    ])
  })
})
