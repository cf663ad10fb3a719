/**
 * The room examples of docs/protocol.md (protocol v1.2), written out as wire
 * lines: each decodes as the contract says, and what breaks a rule does not.
 */
import { assert, describe, it } from "@effect/vitest"
import { RoomCommand, RoomFrame } from "@parley/protocol"
import { Either, Schema } from "effect"

const decodeCommand = Schema.decodeUnknownEither(RoomCommand)
const decodeFrame = Schema.decodeUnknownEither(RoomFrame)
const encodeFrame = Schema.encodeSync(RoomFrame)

const command = (line: string) => {
  const decoded = decodeCommand(JSON.parse(line))
  assert.isTrue(Either.isRight(decoded), `${line} is a room command`)
  return Either.getOrThrow(decoded)
}

const notCommand = (line: string) => {
  const decoded = decodeCommand(JSON.parse(line))
  assert.isTrue(Either.isLeft(decoded), `${line} breaks a rule`)
}

const frame = (line: string) => {
  const json: unknown = JSON.parse(line)
  const decoded = decodeFrame(json)
  assert.isTrue(Either.isRight(decoded), `${line} is a room frame`)
  const f = Either.getOrThrow(decoded)
  assert.deepStrictEqual(f, json)
  assert.deepStrictEqual(encodeFrame(f), json)
  return f
}

describe("Golden: rooms (protocol v1.2)", () => {
  it("the commands of the moderated-room example", () => {
    assert.deepStrictEqual(
      { ...command("{\"command\":\"ROOM_CREATE\",\"room\":\"ops\",\"visibility\":\"private\",\"topic\":\"on call\"}") },
      { command: "ROOM_CREATE", room: "ops", visibility: "private", topic: "on call" }
    )
    assert.deepStrictEqual({ ...command("{\"command\":\"INVITE\",\"room\":\"ops\",\"user\":\"bob\"}") }, {
      command: "INVITE",
      room: "ops",
      user: "bob"
    })
    assert.deepStrictEqual({ ...command("{\"command\":\"JOIN\",\"room\":\"ops\",\"id\":7}") }, {
      command: "JOIN",
      room: "ops",
      id: 7
    })
    assert.deepStrictEqual(
      {
        ...command("{\"command\":\"MUTE\",\"room\":\"ops\",\"user\":\"bob\",\"duration_s\":600,\"reason\":\"not now\"}")
      },
      { command: "MUTE", room: "ops", user: "bob", duration_s: 600, reason: "not now" }
    )
    for (
      const line of [
        "{\"command\":\"PART\",\"room\":\"ops\"}",
        "{\"command\":\"ROOMS\"}",
        "{\"command\":\"MEMBERS\",\"room\":\"ops\"}",
        "{\"command\":\"TOPIC\",\"room\":\"ops\",\"topic\":\"\"}",
        "{\"command\":\"ROLE\",\"room\":\"ops\",\"user\":\"bob\",\"role\":\"moderator\"}",
        "{\"command\":\"KICK\",\"room\":\"ops\",\"user\":\"bob\"}",
        "{\"command\":\"BAN\",\"room\":\"ops\",\"user\":\"bob\",\"duration_s\":31536000}",
        "{\"command\":\"UNBAN\",\"room\":\"ops\",\"user\":\"bob\"}",
        "{\"command\":\"UNMUTE\",\"room\":\"ops\",\"user\":\"bob\"}",
        "{\"command\":\"ROOM_DELETE\",\"room\":\"ops\"}",
        "{\"command\":\"EDIT\",\"message_id\":41,\"text\":\"deploying in 5\"}",
        "{\"command\":\"DELETE\",\"message_id\":41,\"reason\":\"spam\"}",
        "{\"command\":\"AUDIT\",\"room\":\"ops\",\"before\":12,\"limit\":20}",
        "{\"command\":\"LOCK\",\"user\":\"mallory\",\"reason\":\"spam\"}",
        "{\"command\":\"UNLOCK\",\"user\":\"mallory\"}"
      ]
    ) command(line)
  })

  it("what breaks a field rule is refused", () => {
    notCommand("{\"command\":\"ROOM_CREATE\",\"room\":\"ops\",\"visibility\":\"secret\"}")
    notCommand("{\"command\":\"ROOM_CREATE\",\"room\":\"no spaces\",\"visibility\":\"public\"}")
    notCommand("{\"command\":\"ROOM_CREATE\",\"room\":\"ab\",\"visibility\":\"public\"}")
    notCommand("{\"command\":\"JOIN\",\"room\":\"" + "x".repeat(33) + "\"}")
    notCommand("{\"command\":\"TOPIC\",\"room\":\"ops\",\"topic\":\"two\\nlines\"}")
    notCommand("{\"command\":\"TOPIC\",\"room\":\"ops\",\"topic\":\"" + "t".repeat(257) + "\"}")
    notCommand("{\"command\":\"TOPIC\",\"room\":\"ops\",\"topic\":\"nul\\u0000\"}")
    notCommand("{\"command\":\"BAN\",\"room\":\"ops\",\"user\":\"bob\",\"duration_s\":0}")
    notCommand("{\"command\":\"BAN\",\"room\":\"ops\",\"user\":\"bob\",\"duration_s\":31536001}")
    notCommand("{\"command\":\"MUTE\",\"room\":\"ops\",\"user\":\"bob\",\"duration_s\":1.5}")
    notCommand("{\"command\":\"ROLE\",\"room\":\"ops\",\"user\":\"bob\",\"role\":\"admin\"}")
    notCommand("{\"command\":\"EDIT\",\"message_id\":41,\"text\":\"   \"}")
    notCommand("{\"command\":\"AUDIT\",\"room\":\"ops\",\"limit\":101}")
    notCommand("{\"command\":\"KICK\",\"room\":\"ops\"}")
  })

  it("the replies and events of the example", () => {
    frame(
      "{\"type\":\"ROOM\",\"room\":{\"name\":\"ops\",\"visibility\":\"private\",\"topic\":\"on call\",\"members\":1,\"role\":\"owner\",\"unread\":0}}"
    )
    frame("{\"type\":\"INVITED\",\"room\":\"ops\",\"by\":\"alice\"}")
    frame("{\"type\":\"MEMBER\",\"room\":\"ops\",\"user\":\"bob\",\"event\":\"joined\",\"role\":\"member\"}")
    frame(
      "{\"type\":\"MEMBER\",\"room\":\"ops\",\"user\":\"bob\",\"event\":\"muted\",\"by\":\"alice\",\"reason\":\"not now\",\"expires_at\":\"2026-12-07T15:10:00.000Z\"}"
    )
    frame(
      "{\"type\":\"ROOMS\",\"rooms\":[{\"name\":\"general\",\"visibility\":\"public\",\"topic\":\"\",\"members\":3,\"role\":\"member\",\"unread\":0},{\"name\":\"ops\",\"visibility\":\"private\",\"topic\":\"on call\",\"members\":2,\"role\":\"owner\",\"unread\":0}]}"
    )
    frame(
      "{\"type\":\"MEMBERS\",\"room\":\"ops\",\"members\":[{\"user\":\"alice\",\"role\":\"owner\",\"online\":true},{\"user\":\"bob\",\"role\":\"member\",\"online\":false}],\"total\":2}"
    )
    frame(
      "{\"type\":\"MEMBER\",\"room\":\"ops\",\"user\":\"bob\",\"event\":\"kicked\",\"by\":\"alice\",\"reason\":null}"
    )
    frame(
      "{\"type\":\"MEMBER\",\"room\":\"ops\",\"user\":\"bob\",\"event\":\"banned\",\"by\":\"alice\",\"reason\":null,\"expires_at\":null}"
    )
    frame("{\"type\":\"MEMBER\",\"room\":\"ops\",\"user\":\"bob\",\"event\":\"unbanned\",\"by\":\"alice\"}")
    frame("{\"type\":\"MEMBER\",\"room\":\"ops\",\"user\":\"bob\",\"event\":\"left\"}")
    frame(
      "{\"type\":\"MEMBER\",\"room\":\"ops\",\"user\":\"bob\",\"event\":\"role\",\"role\":\"moderator\",\"by\":\"alice\"}"
    )
    frame("{\"type\":\"TOPIC\",\"room\":\"ops\",\"topic\":\"\",\"by\":\"alice\"}")
    frame(
      "{\"type\":\"EDITED\",\"message_id\":41,\"room\":\"ops\",\"text\":\"deploying in 5\",\"edited_at\":\"2026-12-07T15:01:00.000Z\"}"
    )
    frame("{\"type\":\"DELETED\",\"message_id\":41,\"room\":\"ops\",\"by\":\"alice\"}")
    frame("{\"type\":\"ROOM_DELETED\",\"room\":\"ops\",\"by\":\"alice\"}")
    frame(
      "{\"type\":\"AUDIT\",\"room\":\"ops\",\"entries\":[{\"id\":3,\"actor\":\"alice\",\"action\":\"mute\",\"target\":\"bob\",\"reason\":\"not now\",\"expires_at\":\"2026-12-07T15:10:00.000Z\",\"timestamp\":\"2026-12-07T15:00:05.000Z\"}],\"has_more\":false}"
    )
  })

  it("a MEMBER event with the fields of another kind is not a frame", () => {
    assert.isTrue(Either.isLeft(decodeFrame({ type: "MEMBER", room: "ops", user: "bob", event: "joined" })))
    assert.isTrue(Either.isLeft(decodeFrame({ type: "MEMBER", room: "ops", user: "bob", event: "banned", by: "a" })))
    assert.isTrue(Either.isLeft(decodeFrame({ type: "AUDIT", room: "ops", entries: [{ id: 1 }], has_more: false })))
  })
})
