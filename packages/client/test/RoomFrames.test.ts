/**
 * The room commands as the library encodes them and the room frames as it reads them, checked
 * against the examples of docs/protocol.md ("Rooms, roles and moderation"). The requests go
 * through the seam `Rooms.make` takes (what the client would write, and the server's reply), so
 * these run without a server that speaks rooms.
 */
import { assert, describe, it } from "@effect/vitest"
import { Rooms as RoomsCommand } from "@parley/protocol"
import { Effect, Either, Schema } from "effect"
import { Incoming, type Outgoing, withId } from "../src/Frames.ts"
import * as Reply from "../src/Reply.ts"
import * as Rooms from "../src/Rooms.ts"

const decode = Schema.decodeUnknownEither(Incoming)
const frame = (line: string) => {
  const result = decode(JSON.parse(line))
  if (Either.isLeft(result)) throw new Error(`does not decode: ${line}`)
  return result.right
}
const json = (command: Outgoing) => JSON.parse(JSON.stringify("json" in command ? command.json : command))

/** The room methods over a link that records what is written and answers `reply`. */
const rooms = (reply: string) => {
  const written: Array<unknown> = []
  const methods = Rooms.make((what, command, accept) =>
    Effect.suspend(() => {
      written.push(json(command))
      return Reply.expect(what, frame(reply), accept)
    })
  )
  return { methods, written }
}

const ROOM_OPS =
  `{"type":"ROOM","room":{"name":"ops","visibility":"private","topic":"on call","members":1,"role":"owner","unread":0}}`

describe("room commands", () => {
  it.effect("ROOM_CREATE as in the example, answered with the room", () =>
    Effect.gen(function*() {
      const { methods, written } = rooms(ROOM_OPS)
      const room = yield* methods.createRoom("ops", "private", "on call")
      assert.deepStrictEqual(written, [{
        command: "ROOM_CREATE",
        room: "ops",
        visibility: "private",
        topic: "on call"
      }])
      assert.deepStrictEqual(room, {
        name: "ops",
        visibility: "private",
        topic: "on call",
        members: 1,
        role: "owner",
        unread: 0
      })
    }))

  it.effect("INVITE, JOIN, MUTE with a duration and a reason, PART", () =>
    Effect.gen(function*() {
      const ok = rooms(`{"type":"OK"}`)
      yield* ok.methods.invite("ops", "bob")
      yield* ok.methods.mute("ops", "bob", { durationS: 600, reason: "not now" })
      yield* ok.methods.ban("ops", "bob")
      yield* ok.methods.part("ops")
      assert.deepStrictEqual(ok.written, [
        { command: "INVITE", room: "ops", user: "bob" },
        { command: "MUTE", room: "ops", user: "bob", duration_s: 600, reason: "not now" },
        { command: "BAN", room: "ops", user: "bob" },
        { command: "PART", room: "ops" }
      ])
      const join = rooms(ROOM_OPS)
      assert.strictEqual((yield* join.methods.join("ops")).name, "ops")
      assert.deepStrictEqual(join.written, [{ command: "JOIN", room: "ops" }])
    }))

  it.effect("ROOMS and MEMBERS replies as in the example", () =>
    Effect.gen(function*() {
      const list = rooms(
        `{"type":"ROOMS","rooms":[{"name":"general","visibility":"public","topic":"","members":3,"role":"member","unread":0},{"name":"ops","visibility":"private","topic":"on call","members":2,"role":"owner","unread":0}]}`
      )
      const all = yield* list.methods.rooms
      assert.deepStrictEqual(all.map((r) => r.name), ["general", "ops"])
      assert.deepStrictEqual(list.written, [{ command: "ROOMS" }])
      const members = rooms(
        `{"type":"MEMBERS","room":"ops","members":[{"user":"alice","role":"owner","online":true},{"user":"bob","role":"member","online":false}],"total":2}`
      )
      const page = yield* members.methods.members("ops")
      assert.strictEqual(page.total, 2)
      assert.deepStrictEqual(page.members[1], { user: "bob", role: "member", online: false })
    }))

  it.effect("the room errors are typed, with action and expires_at", () =>
    Effect.gen(function*() {
      const muted = rooms(
        `{"type":"ERROR","code":"MUTED","message":"you are muted in ops until 2026-12-07T15:10:00.000Z","expires_at":"2026-12-07T15:10:00.000Z"}`
      )
      const error = yield* Effect.flip(muted.methods.setTopic("ops", "x"))
      assert.strictEqual(error._tag, "RoomRejected")
      if (error._tag === "RoomRejected") {
        assert.strictEqual(error.code, "MUTED")
        assert.strictEqual(error.expiresAt, "2026-12-07T15:10:00.000Z")
      }
      const forbidden = rooms(
        `{"type":"ERROR","code":"FORBIDDEN","action":"KICK","message":"a moderator cannot kick a moderator"}`
      )
      const refused = yield* Effect.flip(forbidden.methods.kick("ops", "carol", "spam"))
      assert.deepStrictEqual(forbidden.written, [{ command: "KICK", room: "ops", user: "carol", reason: "spam" }])
      assert.strictEqual(refused._tag, "RoomRejected")
      if (refused._tag === "RoomRejected") assert.strictEqual(refused.action, "KICK")
      const unknown = rooms(`{"type":"ERROR","code":"UNKNOWN_USER","message":"no user named zed"}`)
      assert.strictEqual((yield* Effect.flip(unknown.methods.invite("ops", "zed")))._tag, "RequestRejected")
    }))

  it.effect("a malformed argument is refused before anything is sent", () =>
    Effect.gen(function*() {
      const { methods, written } = rooms(`{"type":"OK"}`)
      const badName = yield* Effect.flip(methods.join("a b"))
      const badTopic = yield* Effect.flip(methods.setTopic("ops", "two\nlines"))
      const badDuration = yield* Effect.flip(methods.mute("ops", "bob", { durationS: 0 }))
      for (const e of [badName, badTopic, badDuration]) assert.strictEqual(e._tag, "InvalidInput")
      assert.deepStrictEqual(written, [])
    }))

  it("the request id goes on an encoded command as on a v1 one", () => {
    const command = Either.getOrThrow(
      Rooms.encodeRoomCommand(RoomsCommand, { command: "ROOMS" })
    )
    assert.deepStrictEqual(json(withId(command, 7)), { command: "ROOMS", id: 7 })
  })
})

describe("room frames", () => {
  it("the events of the example decode, each with its fields", () => {
    const joined = frame(`{"type":"MEMBER","room":"ops","user":"bob","event":"joined","role":"member"}`)
    assert.deepStrictEqual(joined, { type: "MEMBER", room: "ops", user: "bob", event: "joined", role: "member" })
    const muted = frame(
      `{"type":"MEMBER","room":"ops","user":"bob","event":"muted","by":"alice","reason":"not now","expires_at":"2026-12-07T15:10:00.000Z"}`
    )
    assert.strictEqual(
      muted.type === "MEMBER" && muted.event === "muted" ? muted.expires_at : "",
      "2026-12-07T15:10:00.000Z"
    )
    assert.deepStrictEqual(frame(`{"type":"INVITED","room":"ops","by":"alice"}`), {
      type: "INVITED",
      room: "ops",
      by: "alice"
    })
    const edited = frame(
      `{"type":"EDITED","message_id":41,"room":"ops","text":"deployed","edited_at":"2026-12-07T15:01:00.000Z"}`
    )
    assert.strictEqual(edited.type, "EDITED")
  })

  it("MESSAGE keeps its room and edited_at; CONNECTED its rooms; HELLO its features; BYE locked", () => {
    const message = frame(
      `{"type":"MESSAGE","message_id":41,"from":"bob","to":null,"room":"ops","text":"deploying now","timestamp":"2026-12-07T15:00:00.000Z","edited_at":"2026-12-07T15:01:00.000Z"}`
    )
    assert.isTrue(message.type === "MESSAGE" && message.room === "ops" && message.edited_at !== undefined)
    const dm = frame(
      `{"type":"MESSAGE","message_id":42,"from":"bob","to":"alice","room":null,"text":"hi","timestamp":"2026-12-07T15:00:00.000Z"}`
    )
    assert.isTrue(dm.type === "MESSAGE" && dm.room === null)
    const v1 = frame(
      `{"type":"MESSAGE","message_id":43,"from":"bob","to":null,"text":"hi","timestamp":"2026-12-07T15:00:00.000Z"}`
    )
    assert.isTrue(v1.type === "MESSAGE" && v1.room === undefined)
    const connected = frame(
      `{"type":"CONNECTED","user":"alice","session_id":1,"token":"abcdefghijklmnop0123","online":["alice"],"unread":0,"rooms":[{"name":"general","visibility":"public","topic":"","members":3,"role":"member","unread":2}]}`
    )
    assert.isTrue(connected.type === "CONNECTED" && connected.rooms?.[0]?.unread === 2)
    const hello = frame(
      `{"type":"HELLO","protocol":1,"server":"parley","limits":{"max_frame_bytes":65536,"max_text_chars":4096},"features":["rooms"]}`
    )
    assert.isTrue(hello.type === "HELLO" && hello.features?.includes("rooms") === true)
    const bye = frame(`{"type":"BYE","reason":"locked"}`)
    assert.isTrue(bye.type === "BYE" && bye.reason === "locked")
  })
})
