/**
 * The room slash commands as typed: what each asks for, durations, and the
 * one-line usage hint when an argument is missing.
 */
import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import { completions } from "../src/Chat.ts"
import { parseDuration, parseRoomInput, ROOM_COMMANDS, RoomInput } from "../src/RoomInput.ts"

const parsed = (line: string) => {
  const result = parseRoomInput(line)
  if (result === undefined) throw new Error(`not a room command: ${line}`)
  return result
}
const ok = (line: string) => Either.getOrThrowWith(parsed(line), (hint) => new Error(`${line}: ${hint}`))
const hint = (line: string) => Either.match(parsed(line), { onLeft: (h) => h, onRight: () => "parsed" })

describe("room slash commands", () => {
  it("durations: s, m, h, d, w; nothing else; 1 s to a year", () => {
    assert.deepStrictEqual(parseDuration("10m"), Either.right(600))
    assert.deepStrictEqual(parseDuration("2h"), Either.right(7200))
    assert.deepStrictEqual(parseDuration("1D"), Either.right(86_400))
    assert.deepStrictEqual(parseDuration("90s"), Either.right(90))
    assert.deepStrictEqual(parseDuration("1w"), Either.right(604_800))
    assert.isUndefined(parseDuration("spam"))
    assert.isUndefined(parseDuration("10"))
    assert.isUndefined(parseDuration("1.5h"))
    assert.isTrue(Either.isLeft(parseDuration("0m")!))
    assert.isTrue(Either.isLeft(parseDuration("366d")!))
    assert.deepStrictEqual(parseDuration("365d"), Either.right(31_536_000))
  })

  it("/ban and /mute: a duration when the second word is one, the rest is the reason", () => {
    assert.deepStrictEqual(
      ok("/ban bob 2h spamming links"),
      RoomInput.Ban({ user: "bob", durationS: 7200, reason: "spamming links" })
    )
    assert.deepStrictEqual(
      ok("/ban bob spamming links"),
      RoomInput.Ban({ user: "bob", durationS: undefined, reason: "spamming links" })
    )
    assert.deepStrictEqual(ok("/ban bob"), RoomInput.Ban({ user: "bob", durationS: undefined, reason: undefined }))
    assert.deepStrictEqual(
      ok("/mute bob 10m not now"),
      RoomInput.Mute({ user: "bob", durationS: 600, reason: "not now" })
    )
    assert.deepStrictEqual(ok("/MUTE bob 10m"), RoomInput.Mute({ user: "bob", durationS: 600, reason: undefined }))
    assert.strictEqual(hint("/mute bob 0m"), "a duration must be from 1s to a year (365d), not 0m")
  })

  it("every command with what it needs", () => {
    assert.deepStrictEqual(
      ok("/create ops private on call"),
      RoomInput.Create({ room: "ops", visibility: "private", topic: "on call" })
    )
    assert.deepStrictEqual(
      ok("/create lobby"),
      RoomInput.Create({ room: "lobby", visibility: "public", topic: undefined })
    )
    assert.deepStrictEqual(
      ok("/create lobby say hi"),
      RoomInput.Create({ room: "lobby", visibility: "public", topic: "say hi" })
    )
    assert.deepStrictEqual(ok("/join ops"), RoomInput.Join({ room: "ops" }))
    assert.deepStrictEqual(ok("/part"), RoomInput.Part({ room: undefined }))
    assert.deepStrictEqual(ok("/part ops"), RoomInput.Part({ room: "ops" }))
    assert.deepStrictEqual(ok("/rooms"), RoomInput.Rooms())
    assert.deepStrictEqual(ok("/members"), RoomInput.Members({ room: undefined }))
    assert.deepStrictEqual(ok("/members ops"), RoomInput.Members({ room: "ops" }))
    assert.deepStrictEqual(ok("/topic on call: ask here"), RoomInput.Topic({ topic: "on call: ask here" }))
    assert.deepStrictEqual(ok("/invite carol"), RoomInput.Invite({ user: "carol" }))
    assert.deepStrictEqual(ok("/kick carol"), RoomInput.Kick({ user: "carol", reason: undefined }))
    assert.deepStrictEqual(ok("/kick carol off topic"), RoomInput.Kick({ user: "carol", reason: "off topic" }))
    assert.deepStrictEqual(ok("/unban carol"), RoomInput.Unban({ user: "carol" }))
    assert.deepStrictEqual(ok("/unmute carol"), RoomInput.Unmute({ user: "carol" }))
    assert.deepStrictEqual(ok("/op bob"), RoomInput.Role({ user: "bob", role: "moderator" }))
    assert.deepStrictEqual(ok("/deop bob"), RoomInput.Role({ user: "bob", role: "member" }))
    assert.deepStrictEqual(ok("/edit deployed, all green"), RoomInput.Edit({ text: "deployed, all green" }))
    assert.deepStrictEqual(ok("/delete"), RoomInput.Delete({ messageId: undefined, user: undefined }))
    assert.deepStrictEqual(ok("/delete 41"), RoomInput.Delete({ messageId: 41, user: undefined }))
    assert.deepStrictEqual(ok("/delete #41"), RoomInput.Delete({ messageId: 41, user: undefined }))
    assert.deepStrictEqual(ok("/delete bob"), RoomInput.Delete({ messageId: undefined, user: "bob" }))
    assert.deepStrictEqual(ok("/switch ops"), RoomInput.Switch({ room: "ops" }))
  })

  it("a missing or extra argument gives the usage in one line", () => {
    const hints: Record<string, string> = {
      "/join": "usage: /join <room>",
      "/join a b": "usage: /join <room>",
      "/switch": "usage: /switch <room>",
      "/create": "usage: /create <room> [public|private] [topic]",
      "/topic": "usage: /topic <text>",
      "/invite": "usage: /invite <user>",
      "/kick": "usage: /kick <user> [reason]",
      "/ban": "usage: /ban <user> [duration] [reason]",
      "/mute": "usage: /mute <user> [duration] [reason]",
      "/unban": "usage: /unban <user>",
      "/unmute": "usage: /unmute <user>",
      "/op": "usage: /op <user>",
      "/deop": "usage: /deop <user>",
      "/edit": "usage: /edit <text>",
      "/delete 41 42": "usage: /delete [message number|user]",
      "/members a b": "usage: /members [room]",
      "/part a b": "usage: /part [room]"
    }
    for (const [line, usage] of Object.entries(hints)) {
      assert.strictEqual(hint(line), usage, line)
      assert.notInclude(usage, "\n")
    }
  })

  it("other lines are not room commands", () => {
    assert.isUndefined(parseRoomInput("/msg bob hi"))
    assert.isUndefined(parseRoomInput("hello"))
    assert.isUndefined(parseRoomInput("/joinx ops"))
  })

  it("Tab: commands (the room ones too), your rooms after /switch, people otherwise", () => {
    const online = ["alice", "bob"]
    const rooms = ["general", "ops"]
    for (const command of ROOM_COMMANDS) assert.include(completions("/", online, rooms), command)
    assert.include(completions("/sw", online, rooms), "/switch")
    assert.deepStrictEqual(completions("/switch o", online, rooms), rooms)
    assert.deepStrictEqual(completions("/part ", online, rooms), rooms)
    assert.deepStrictEqual(completions("/kick b", online, rooms), online)
  })
})
