import { assert, describe, it } from "@effect/vitest"
import {
  AlreadyAuthenticated,
  AuthFailed,
  Banned,
  ErrorFrame,
  Forbidden,
  FrameTooLarge,
  Internal,
  InvalidCommand,
  InvalidJson,
  Muted,
  NoSuchRoom,
  NotAuthenticated,
  NotFound,
  NotMember,
  type ProtocolError,
  RateLimited,
  RoomNameTaken,
  toErrorFrame,
  Unavailable,
  UnknownCommand,
  UnknownUser,
  UsernameTaken
} from "@parley/protocol"
import { Schema } from "effect"

/** Every error class with the wire code the contract gives it. */
const cases: ReadonlyArray<readonly [ProtocolError, string]> = [
  [new InvalidJson({ message: "m" }), "INVALID_JSON"],
  [new InvalidCommand({ message: "m" }), "INVALID_COMMAND"],
  [new UnknownCommand({ message: "m" }), "UNKNOWN_COMMAND"],
  [new FrameTooLarge({ message: "m" }), "FRAME_TOO_LARGE"],
  [new NotAuthenticated({ message: "m" }), "NOT_AUTHENTICATED"],
  [new AlreadyAuthenticated({ message: "m" }), "ALREADY_AUTHENTICATED"],
  [new AuthFailed({ message: "m" }), "AUTH_FAILED"],
  [new UsernameTaken({ message: "m" }), "USERNAME_TAKEN"],
  [new UnknownUser({ message: "m" }), "UNKNOWN_USER"],
  [new NotFound({ message: "m" }), "NOT_FOUND"],
  [new RateLimited({ message: "m", retryAfterMs: 250 }), "RATE_LIMITED"],
  [new Unavailable({ message: "m", retryAfterMs: 250 }), "UNAVAILABLE"],
  [new Internal({ message: "m" }), "INTERNAL"],
  [new NoSuchRoom({ message: "m" }), "NO_SUCH_ROOM"],
  [new NotMember({ message: "m" }), "NOT_MEMBER"],
  [new Forbidden({ message: "m", action: "KICK" }), "FORBIDDEN"],
  [new Banned({ message: "m", expiresAt: null }), "BANNED"],
  [new Muted({ message: "m", expiresAt: "2026-12-07T15:10:00.000Z" }), "MUTED"],
  [new RoomNameTaken({ message: "m" }), "ROOM_NAME_TAKEN"]
]

describe("toErrorFrame", () => {
  it("covers every code of the contract once", () => {
    assert.deepStrictEqual(cases.map(([, code]) => code), [...ErrorFrame.fields.code.literals])
  })

  it("maps every error tag to its code, keeps the message and echoes the id", () => {
    for (const [error, code] of cases) {
      for (const id of [undefined, "req-1", 0, 42, -1.5, ""] as const) {
        const frame = toErrorFrame(error, id)
        const expected: Record<string, unknown> = { type: "ERROR", code, message: "m" }
        if (error._tag === "RateLimited" || error._tag === "Unavailable") expected.retry_after_ms = 250
        if (error._tag === "Forbidden") expected.action = "KICK"
        if (error._tag === "Banned" || error._tag === "Muted") expected.expires_at = error.expiresAt
        if (id !== undefined) expected.id = id
        assert.deepStrictEqual(frame, expected)
        // no `id` key at all when the request had none
        assert.strictEqual("id" in frame, id !== undefined)
        assert.deepStrictEqual(Schema.decodeUnknownSync(ErrorFrame)(frame), frame)
      }
    }
  })

  it("RATE_LIMITED carries retry_after_ms", () => {
    const frame = toErrorFrame(new RateLimited({ message: "slow down", retryAfterMs: 1200 }), 9)
    assert.deepStrictEqual(frame, {
      type: "ERROR",
      code: "RATE_LIMITED",
      message: "slow down",
      retry_after_ms: 1200,
      id: 9
    })
  })
})
