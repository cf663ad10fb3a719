/**
 * Issue 13's "Done when", through the library against the real server: two people create a
 * private room, invite a third, and moderate it (mute, kick, ban, delete a message), each step
 * seen by everyone it concerns, with the typed replies, events and errors of protocol v1.2.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawnServer } from "@parley/testkit"
import { Effect } from "effect"
import type { ChatEvent, RoomEvent, RoomMessage } from "../src/ChatClient.ts"
import { clientOf, waitFor } from "./Support.ts"

const member = (room: string, user: string, event: string) => (e: ChatEvent): e is RoomEvent =>
  e.type === "MEMBER" && e.room === room && e.user === user && e.event === event
const said = (room: string, text: string) => (e: ChatEvent): e is RoomMessage =>
  e.type === "MESSAGE" && e.room === room && e.text === text
const ofType = <T extends RoomEvent["type"]>(type: T) => (e: ChatEvent): e is Extract<RoomEvent, { type: T }> =>
  e.type === type

describe("rooms, roles and moderation through the client", () => {
  it.scopedLive(
    "a private room: create, invite, mute, delete a message, kick, ban",
    () =>
      Effect.gen(function*() {
        const server = yield* spawnServer()
        const alice = yield* clientOf(server, "alice", { rooms: true })
        const bob = yield* clientOf(server, "bob", { rooms: true })
        const carol = yield* clientOf(server, "carol", { rooms: true })
        const [aliceEvents, bobEvents, carolEvents] = yield* Effect.all([
          alice.subscribe,
          bob.subscribe,
          carol.subscribe
        ])
        const first = yield* alice.connect
        assert.deepStrictEqual(first.rooms?.map((r) => r.name), ["general"])
        yield* bob.connect
        yield* carol.connect

        // alice creates the room and invites bob, who joins and is made moderator
        const ops = yield* alice.createRoom("ops", "private", "on call")
        assert.deepStrictEqual(ops, {
          name: "ops",
          visibility: "private",
          topic: "on call",
          members: 1,
          role: "owner",
          unread: 0
        })
        assert.strictEqual((yield* Effect.flip(bob.createRoom("OPS", "public")))._tag, "RoomRejected")
        yield* alice.invite("ops", "bob")
        yield* waitFor(bobEvents, (e): e is RoomEvent => e.type === "INVITED" && e.room === "ops" && e.by === "alice")
        assert.strictEqual((yield* bob.join("ops")).role, "member")
        yield* waitFor(aliceEvents, member("ops", "bob", "joined"))
        yield* alice.setRole("ops", "bob", "moderator")
        yield* waitFor(bobEvents, member("ops", "bob", "role"))

        // the room does not exist for carol until she is invited
        const hidden = yield* Effect.flip(carol.join("ops"))
        assert.isTrue(hidden._tag === "RoomRejected" && hidden.code === "NO_SUCH_ROOM")
        yield* bob.invite("ops", "carol")
        yield* carol.join("ops")
        const members = yield* alice.members("ops")
        assert.deepStrictEqual(members.members.map((m) => [m.user, m.role]), [
          ["alice", "owner"],
          ["bob", "moderator"],
          ["carol", "member"]
        ])

        // carol says something; bob deletes it and mutes her for 10 minutes
        const ack = yield* carol.send("buy cheap watches", { room: "ops" })
        const seen = yield* waitFor(aliceEvents, said("ops", "buy cheap watches"))
        assert.strictEqual(seen.message_id, ack.message_id)
        yield* bob.deleteMessage(ack.message_id, "spam")
        const deleted = yield* waitFor(aliceEvents, ofType("DELETED"))
        assert.strictEqual(deleted.message_id, ack.message_id)
        const page = yield* alice.history({ room: "ops" })
        assert.isFalse(page.messages.some((m) => m.message_id === ack.message_id))
        yield* bob.mute("ops", "carol", { durationS: 600, reason: "not now" })
        yield* waitFor(carolEvents, member("ops", "carol", "muted"))
        const muted = yield* Effect.flip(carol.send("sorry", { room: "ops" }))
        assert.isTrue(muted._tag === "RoomRejected" && muted.code === "MUTED" && typeof muted.expiresAt === "string")

        // a moderator cannot kick a moderator; bob kicks carol, who cannot come back uninvited
        const forbidden = yield* Effect.flip(bob.kick("ops", "alice"))
        assert.isTrue(forbidden._tag === "RoomRejected" && forbidden.code === "FORBIDDEN")
        yield* bob.kick("ops", "carol", "cool off")
        yield* waitFor(carolEvents, member("ops", "carol", "kicked"))
        const gone = yield* Effect.flip(carol.join("ops"))
        assert.isTrue(gone._tag === "RoomRejected" && gone.code === "NO_SUCH_ROOM")

        // banned for a day: no join, no history, and no invitation either
        yield* alice.ban("ops", "carol", { durationS: 86_400, reason: "spam" })
        const banned = yield* Effect.flip(carol.history({ room: "ops" }))
        assert.isTrue(banned._tag === "RoomRejected" && (banned.code === "BANNED" || banned.code === "NO_SUCH_ROOM"))
        const noInvite = yield* Effect.flip(bob.invite("ops", "carol"))
        assert.isTrue(noInvite._tag === "RoomRejected" && noInvite.code === "BANNED")

        // every moderation action is in the audit log, newest first
        const audit = yield* alice.audit("ops")
        const actions = audit.entries.map((e) => e.action)
        assert.deepStrictEqual(actions.slice(0, 4), ["ban", "kick", "mute", "delete"])
        assert.include(actions, "role")
        const ban = audit.entries[0]!
        assert.deepStrictEqual([ban.actor, ban.target, ban.reason], ["alice", "carol", "spam"])
        assert.isNotNull(ban.expires_at)
      }),
    { timeout: 60_000 }
  )
})
