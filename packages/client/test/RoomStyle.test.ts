/**
 * Room events as the terminal shows them (one line each, with and without
 * colour), the room tabs behind the status line, and the status line itself.
 */
import { assert, describe, it } from "@effect/vitest"
import { statusLine } from "../src/Chat.ts"
import { ConnectionState } from "../src/ConnectionState.ts"
import type { RoomEvent } from "../src/Frames.ts"
import { formatRoomEvent, humanDuration, roomTag } from "../src/RoomStyle.ts"
import { RoomTabs } from "../src/RoomTabs.ts"
import { makeStyle, withoutColour } from "../src/Style.ts"

const plain = makeStyle(false)
const colour = makeStyle(true)
const now = new Date("2026-12-07T15:00:00.000Z")
const at = { me: "alice", current: "ops", now }

const cases: ReadonlyArray<readonly [RoomEvent, string]> = [
  [{ type: "MEMBER", room: "ops", user: "bob", event: "joined", role: "member" }, "— bob joined"],
  [{ type: "MEMBER", room: "ops", user: "bob", event: "left" }, "— bob left"],
  [
    { type: "MEMBER", room: "ops", user: "bob", event: "kicked", by: "alice", reason: "off topic" },
    "— bob was kicked by you: off topic"
  ],
  [
    {
      type: "MEMBER",
      room: "ops",
      user: "bob",
      event: "muted",
      by: "carol",
      reason: "not now",
      expires_at: "2026-12-07T15:10:00.000Z"
    },
    "— bob was muted by carol for 10 min: not now"
  ],
  [
    { type: "MEMBER", room: "ops", user: "alice", event: "banned", by: "carol", reason: null, expires_at: null },
    "— you were banned by carol"
  ],
  [
    {
      type: "MEMBER",
      room: "ops",
      user: "bob",
      event: "banned",
      by: "carol",
      reason: "spam",
      expires_at: "2026-12-08T15:00:00.000Z"
    },
    "— bob was banned by carol for 1 day: spam"
  ],
  [{ type: "MEMBER", room: "ops", user: "bob", event: "unbanned", by: "carol" }, "— bob was unbanned by carol"],
  [{ type: "MEMBER", room: "ops", user: "bob", event: "unmuted", by: "alice" }, "— bob was unmuted by you"],
  [
    { type: "MEMBER", room: "ops", user: "bob", event: "role", role: "moderator", by: "alice" },
    "— you made bob moderator"
  ],
  [{ type: "MEMBER", room: "ops", user: "bob", event: "role", role: "member", by: "alice" }, "— you made bob a member"],
  [{ type: "TOPIC", room: "ops", topic: "on call", by: "bob" }, "— bob set the topic: on call"],
  [{ type: "TOPIC", room: "ops", topic: "", by: "bob" }, "— bob cleared the topic"],
  [
    { type: "EDITED", room: "ops", message_id: 41, text: "deployed", edited_at: "2026-12-07T15:01:00.000Z" },
    "— message #41 was edited: deployed"
  ],
  [{ type: "DELETED", room: "ops", message_id: 41, by: "carol" }, "— message #41 was deleted by carol"],
  [{ type: "ROOM_DELETED", room: "ops", by: "carol" }, "— the room ops was deleted by carol"],
  [{ type: "INVITED", room: "ops", by: "carol" }, "— carol invited you to ops: /join ops"]
]

describe("room events on the terminal", () => {
  it("one readable line each without colour (NO_COLOR)", () => {
    for (const [event, line] of cases) {
      const shown = formatRoomEvent(plain, event, at)
      assert.strictEqual(shown, line)
      assert.notInclude(shown, "\x1b")
    }
  })

  it("the same words with colour; moderation stands out", () => {
    for (const [event, line] of cases) {
      const shown = formatRoomEvent(colour, event, at)
      assert.include(shown, "\x1b[")
      assert.strictEqual(withoutColour(shown), line)
    }
    const muted = formatRoomEvent(colour, cases[3]![0], at)
    assert.include(muted, "\x1b[33m")
  })

  it("an event of another room is marked with its name; text from the network cannot drive the terminal", () => {
    const elsewhere = formatRoomEvent(plain, { type: "MEMBER", room: "dev", user: "bob", event: "left" }, at)
    assert.strictEqual(elsewhere, "[dev] — bob left")
    const topic = formatRoomEvent(plain, { type: "TOPIC", room: "ops", topic: "a\x1b[2Jb", by: "bob" }, at)
    assert.strictEqual(topic, "— bob set the topic: a\ufffd[2Jb")
    assert.strictEqual(roomTag(plain, "OPS", "ops"), "")
    assert.strictEqual(roomTag(plain, null, "ops"), "")
    assert.strictEqual(withoutColour(roomTag(colour, "dev", "ops")), "[dev] ")
  })

  it("durations as people say them", () => {
    assert.strictEqual(humanDuration(45_000), "45 s")
    assert.strictEqual(humanDuration(600_000), "10 min")
    assert.strictEqual(humanDuration(2 * 3_600_000), "2 h")
    assert.strictEqual(humanDuration(3 * 86_400_000), "3 days")
  })
})

describe("room tabs", () => {
  it("counts what arrives elsewhere, cycles in order, falls back to general", () => {
    const tabs = new RoomTabs()
    assert.isFalse(tabs.listed)
    tabs.reset([{ name: "ops", unread: 2 }, { name: "general", unread: 0 }, { name: "dev", unread: 0 }])
    assert.deepStrictEqual(tabs.names(), ["general", "dev", "ops"])
    assert.strictEqual(tabs.summary(), "#general · ops 2")
    tabs.arrived("dev")
    tabs.arrived("general")
    assert.strictEqual(tabs.summary(), "#general · dev 1 · ops 2")
    assert.strictEqual(tabs.cycle(1), "dev")
    assert.strictEqual(tabs.summary(), "#dev · ops 2")
    assert.strictEqual(tabs.cycle(-1), "general")
    assert.strictEqual(tabs.cycle(-1), "ops")
    assert.isTrue(tabs.switchTo("DEV"))
    assert.isFalse(tabs.switchTo("nowhere"))
    tabs.remove("dev")
    assert.strictEqual(tabs.current, "general")
    tabs.remove("general")
    assert.deepStrictEqual(tabs.names(), ["general", "ops"])
  })

  it("the status line shows the current room and the others' counts", () => {
    const state = ConnectionState.Connected({ user: "alice", sessionId: 1, since: 0, via: "password" })
    const line = statusLine(
      state,
      { address: "h:1", user: "alice", online: 2, unsent: 0, rooms: "#ops · general 3" },
      0
    )
    assert.strictEqual(line, " connected · alice @ h:1 · #ops · general 3 · 2 online · /help ")
  })
})
