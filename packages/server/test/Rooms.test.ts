/**
 * Rooms (protocol v1.2, docs/protocol.md "Rooms, roles and moderation") over
 * real TCP: every room command with its reply, events and errors; messages,
 * history, read marks and replay in rooms; opting in with `"rooms": true`;
 * and a version 1 connection that sees exactly what it saw before.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, TestClock } from "effect"
import { launchServer } from "./support/InProcessServer.ts"
import { contractTimeout, startServer } from "./support/TestServer.ts"
import { type Frame, ids, logIn, PASSWORD, register, say, type Wire } from "./support/Wire.ts"

/** Registers `name` and logs in with rooms enabled. */
const member = (port: number, name: string) =>
  Effect.zipRight(register(port, name), logIn(port, name, { password: PASSWORD, rooms: true }))

/** Another connection of `name`, with rooms enabled. */
const device = (port: number, name: string) => logIn(port, name, { password: PASSWORD, rooms: true })

const create = (wire: Wire, room: string, visibility: "public" | "private", topic?: string) =>
  wire.ask({ command: "ROOM_CREATE", room, visibility, ...(topic === undefined ? {} : { topic }) }, "ROOM")

const ask = (wire: Wire, frame: Record<string, unknown>) => wire.ask(frame, "OK")

const refused = (wire: Wire, frame: Record<string, unknown>, code: string) =>
  Effect.zipRight(wire.send(frame), wire.replyError(code))

/**
 * Sends a public marker from `from` and returns every frame `to` receives
 * before it: messages reach a connection in message_id order, so anything
 * delivered before the marker was committed has arrived by then.
 */
const framesBefore = (from: Wire, to: Wire, marker: string) =>
  Effect.gen(function*() {
    yield* say(from, marker)
    const before: Array<Frame> = []
    while (true) {
      const frame = yield* to.next()
      if (frame.type === "MESSAGE" && frame.text === marker) return before
      before.push(frame)
    }
  })

/** Waits for every reply to earlier requests on each connection, and forgets what arrived so far. */
const clear = (wires: ReadonlyArray<Wire>) =>
  Effect.forEach(wires, (wire) => Effect.map(wire.sync(), () => wire.drainPending()), { discard: true })

/** Waits for the MESSAGE `messageId` on `wire` (earlier frames stay queued). */
const arrived = (wire: Wire, messageId: number) => wire.pick((f) => f.type === "MESSAGE" && f.message_id === messageId)

const ofRoom = (frames: ReadonlyArray<Frame>, room: string) => frames.filter((f) => f.room === room)

describe.concurrent("rooms", { timeout: contractTimeout }, () => {
  it.scopedLive("ROOM_CREATE answers the room; names are unique without regard to case, general included", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer()
      const { wire: alice } = yield* member(port, "alice")
      const reply = yield* alice.ask({ command: "ROOM_CREATE", id: 3, room: "Ops", visibility: "private" }, "ROOM")
      assert.deepStrictEqual(reply, {
        type: "ROOM",
        room: { name: "Ops", visibility: "private", topic: "", members: 1, role: "owner", unread: 0 },
        id: 3
      })
      for (const name of ["ops", "OPS", "general", "General"]) {
        const error = yield* refused(
          alice,
          { command: "ROOM_CREATE", room: name, visibility: "public" },
          "ROOM_NAME_TAKEN"
        )
        assert.notProperty(error, "action")
      }
      yield* refused(alice, { command: "ROOM_CREATE", room: "no spaces", visibility: "public" }, "INVALID_COMMAND")
      yield* refused(alice, { command: "ROOM_CREATE", room: "x1", visibility: "secret" }, "INVALID_COMMAND")
      // commands match names without regard to case and answer with the creation spelling
      assert.strictEqual((yield* alice.ask({ command: "MEMBERS", room: "OPS" }, "MEMBERS")).room, "Ops")
    }))

  it.scopedLive("an account may create 20 rooms an hour, then RATE_LIMITED with retry_after_ms", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer()
      const { wire: alice } = yield* member(port, "alice")
      for (let i = 0; i < 20; i++) yield* create(alice, `room-${i}`, "public")
      const error = yield* refused(
        alice,
        { command: "ROOM_CREATE", room: "one-more", visibility: "public" },
        "RATE_LIMITED"
      )
      assert.isAbove(error.retry_after_ms as number, 0)
      const { wire: bob } = yield* member(port, "bob")
      yield* create(bob, "bobs-room", "public")
    }))

  it.scopedLive("JOIN a public room: ROOM, and MEMBER joined to the members; joining again changes nothing", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer()
      const { wire: alice } = yield* member(port, "alice")
      const { wire: bob } = yield* member(port, "bob")
      yield* create(alice, "lobby", "public", "hi")
      const joined = yield* bob.ask({ command: "JOIN", room: "LOBBY", id: "j" }, "ROOM")
      assert.deepStrictEqual(joined, {
        type: "ROOM",
        room: { name: "lobby", visibility: "public", topic: "hi", members: 2, role: "member", unread: 0 },
        id: "j"
      })
      assert.deepStrictEqual(yield* alice.reply("MEMBER"), {
        type: "MEMBER",
        room: "lobby",
        user: "bob",
        event: "joined",
        role: "member"
      })
      assert.strictEqual((yield* bob.ask({ command: "JOIN", room: "lobby" }, "ROOM")).type, "ROOM")
      assert.deepStrictEqual(ofRoom(yield* framesBefore(bob, alice, "marker"), "lobby"), [])
      yield* refused(bob, { command: "JOIN", room: "nowhere" }, "NO_SUCH_ROOM")
      yield* bob.ask({ command: "JOIN", room: "general" }, "ROOM")
    }))

  it.scopedLive("a private room exists only for its members; INVITE lets a user join once, with INVITED", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer()
      const { wire: alice } = yield* member(port, "alice")
      const { wire: bob } = yield* member(port, "bob")
      const { wire: carol } = yield* member(port, "carol")
      const { wire: bobV1 } = yield* logIn(port, "bob")
      yield* create(alice, "ops", "private", "on call")
      for (
        const frame of [
          { command: "JOIN", room: "ops" },
          { command: "MEMBERS", room: "ops" },
          { command: "HISTORY", room: "ops" },
          { command: "MSG", room: "ops", text: "hello?" },
          { command: "TOPIC", room: "ops", topic: "mine" },
          { command: "PART", room: "ops" },
          { command: "INVITE", room: "ops", user: "carol" },
          { command: "ROOM_DELETE", room: "ops" }
        ]
      ) {
        const error = yield* refused(carol, frame, "NO_SUCH_ROOM")
        assert.strictEqual(error.message, "no room named ops", frame.command)
      }
      const rooms = yield* carol.ask({ command: "ROOMS" }, "ROOMS")
      assert.deepStrictEqual((rooms.rooms as Array<Frame>).map((r) => r.name), ["general"])

      yield* refused(alice, { command: "INVITE", room: "ops", user: "nobody" }, "UNKNOWN_USER")
      yield* ask(alice, { command: "INVITE", room: "ops", user: "BOB", id: 1 })
      assert.deepStrictEqual(yield* bob.reply("INVITED"), { type: "INVITED", room: "ops", by: "alice" })
      // inviting again changes nothing and tells nobody
      yield* ask(alice, { command: "INVITE", room: "ops", user: "bob" })
      yield* bob.ask({ command: "JOIN", room: "ops" }, "ROOM")
      assert.strictEqual((yield* alice.reply("MEMBER")).event, "joined")
      // a member may not invite to a private room
      const forbidden = yield* refused(bob, { command: "INVITE", room: "ops", user: "carol" }, "FORBIDDEN")
      assert.strictEqual(forbidden.action, "INVITE")
      // the invitation was used up: after leaving, bob needs a new one
      yield* ask(bob, { command: "PART", room: "ops" })
      yield* refused(bob, { command: "JOIN", room: "ops" }, "NO_SUCH_ROOM")
      // the version 1 connection saw none of it
      const v1 = yield* framesBefore(carol, bobV1, "end")
      assert.deepStrictEqual(v1.filter((f) => f.type !== "PRESENCE"), [])
    }))

  it.scopedLive("PART: OK, MEMBER left to the others, and nothing more of the room on any connection", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer()
      const { wire: alice } = yield* member(port, "alice")
      const { wire: bob } = yield* member(port, "bob")
      const { wire: bob2 } = yield* device(port, "bob")
      yield* create(alice, "lobby", "public")
      yield* bob.ask({ command: "JOIN", room: "lobby" }, "ROOM")
      // the joining user's other connections hear of it too
      for (const wire of [alice, bob2]) assert.strictEqual((yield* wire.reply("MEMBER")).user, "bob")
      yield* say(alice, "before", { room: "lobby" })
      assert.strictEqual((yield* bob2.reply("MESSAGE")).text, "before")
      yield* bob.reply("MESSAGE")
      yield* ask(bob, { command: "PART", room: "lobby", id: "p" })
      assert.deepStrictEqual(yield* alice.reply("MEMBER"), {
        type: "MEMBER",
        room: "lobby",
        user: "bob",
        event: "left"
      })
      yield* say(alice, "after", { room: "lobby" })
      yield* alice.ask({ command: "TOPIC", room: "lobby", topic: "new" }, "OK")
      for (const wire of [bob, bob2]) {
        assert.deepStrictEqual(ofRoom(yield* framesBefore(alice, wire, "mark"), "lobby"), [])
      }
      yield* refused(bob, { command: "PART", room: "lobby" }, "NOT_MEMBER")
      yield* refused(bob, { command: "MSG", room: "lobby", text: "hi" }, "NOT_MEMBER")
      const general = yield* refused(bob, { command: "PART", room: "general" }, "FORBIDDEN")
      assert.strictEqual(general.action, "part_general")
    }))

  it.scopedLive("the last owner must hand over before leaving; the last member's PART deletes the room", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer()
      const { wire: alice } = yield* member(port, "alice")
      const { wire: bob } = yield* member(port, "bob")
      yield* create(alice, "lobby", "public")
      yield* bob.ask({ command: "JOIN", room: "lobby" }, "ROOM")
      const lastOwner = yield* refused(alice, { command: "PART", room: "lobby" }, "FORBIDDEN")
      assert.strictEqual(lastOwner.action, "last_owner")
      yield* ask(bob, { command: "PART", room: "lobby" })
      yield* ask(alice, { command: "PART", room: "lobby" })
      yield* refused(bob, { command: "JOIN", room: "lobby" }, "NO_SUCH_ROOM")
      // the name is free again, and the new room starts empty
      yield* refused(alice, { command: "MSG", room: "lobby", text: "old" }, "NO_SUCH_ROOM")
      yield* create(bob, "lobby", "public")
      assert.deepStrictEqual(ids(yield* bob.ask({ command: "HISTORY", room: "lobby" }, "HISTORY")), [])
    }))

  it.scopedLive("ROOMS lists general first, then public rooms and your private ones, with roles and unread", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer()
      const { wire: alice } = yield* member(port, "alice")
      const { wire: bob } = yield* member(port, "bob")
      yield* create(alice, "zeta", "public", "last")
      yield* create(alice, "alpha", "private")
      yield* create(bob, "Beta", "private")
      yield* bob.ask({ command: "JOIN", room: "zeta" }, "ROOM")
      yield* say(alice, "one", { room: "zeta" })
      yield* say(alice, "two", { room: "zeta" })
      const list = yield* bob.ask({ command: "ROOMS", id: 5 }, "ROOMS")
      assert.strictEqual(list.id, 5)
      assert.deepStrictEqual(list.rooms, [
        { name: "general", visibility: "public", topic: "", members: 2, role: "member", unread: 0 },
        { name: "Beta", visibility: "private", topic: "", members: 1, role: "owner", unread: 0 },
        { name: "zeta", visibility: "public", topic: "last", members: 2, role: "member", unread: 2 }
      ])
      const forAlice = yield* alice.ask({ command: "ROOMS" }, "ROOMS")
      assert.deepStrictEqual((forAlice.rooms as Array<Frame>).map((r) => [r.name, r.role, r.unread]), [
        ["general", "member", 0],
        ["alpha", "owner", 0],
        ["zeta", "owner", 0]
      ])
    }))

  it.scopedLive("MEMBERS: owners, then moderators, then members, by name, with online and total", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer()
      const { wire: carol } = yield* member(port, "carol")
      const { wire: alice } = yield* member(port, "alice")
      yield* register(port, "dave")
      const { wire: bob } = yield* member(port, "bob")
      yield* create(carol, "lobby", "public")
      yield* alice.ask({ command: "JOIN", room: "lobby" }, "ROOM")
      yield* bob.ask({ command: "JOIN", room: "lobby" }, "ROOM")
      yield* bob.send({ command: "DISCONNECT" })
      yield* alice.pick((f) => f.type === "PRESENCE" && f.user === "bob" && f.status === "offline")
      const reply = yield* alice.ask({ command: "MEMBERS", room: "lobby", id: "m" }, "MEMBERS")
      assert.deepStrictEqual(reply, {
        type: "MEMBERS",
        room: "lobby",
        members: [
          { user: "carol", role: "owner", online: true },
          { user: "alice", role: "member", online: true },
          { user: "bob", role: "member", online: false }
        ],
        total: 3,
        id: "m"
      })
      // a public room's members can be listed without joining
      const { wire: dave } = yield* logIn(port, "dave", { password: PASSWORD, rooms: true })
      assert.strictEqual((yield* dave.ask({ command: "MEMBERS", room: "lobby" }, "MEMBERS")).total, 3)
      // general: the users online (and those with a role)
      const general = yield* dave.ask({ command: "MEMBERS", room: "general" }, "MEMBERS")
      assert.deepStrictEqual(
        general.members,
        ["alice", "carol", "dave"].map((user) => ({ user, role: "member", online: true }))
      )
      assert.strictEqual(general.total, 3)
    }))

  it.scopedLive("TOPIC: moderators and owners set it, the room gets a TOPIC event; ROOM_DELETE: owners only", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer()
      const { wire: alice } = yield* member(port, "alice")
      const { wire: bob } = yield* member(port, "bob")
      const { wire: bob2 } = yield* device(port, "bob")
      yield* create(alice, "lobby", "public", "old")
      yield* bob.ask({ command: "JOIN", room: "lobby" }, "ROOM")
      const topic = yield* refused(bob, { command: "TOPIC", room: "lobby", topic: "mine" }, "FORBIDDEN")
      assert.strictEqual(topic.action, "TOPIC")
      yield* ask(alice, { command: "TOPIC", room: "lobby", topic: "new topic" })
      for (const wire of [bob, bob2]) {
        assert.deepStrictEqual(yield* wire.reply("TOPIC"), {
          type: "TOPIC",
          room: "lobby",
          topic: "new topic",
          by: "alice"
        })
      }
      const listed = yield* bob.ask({ command: "ROOMS" }, "ROOMS")
      assert.strictEqual((listed.rooms as Array<Frame>)[1]!.topic, "new topic")
      yield* refused(bob, { command: "TOPIC", room: "lobby", topic: "two\nlines" }, "INVALID_COMMAND")

      const deleting = yield* refused(bob, { command: "ROOM_DELETE", room: "lobby" }, "FORBIDDEN")
      assert.strictEqual(deleting.action, "ROOM_DELETE")
      const general = yield* refused(alice, { command: "ROOM_DELETE", room: "general" }, "FORBIDDEN")
      assert.strictEqual(general.action, "delete_general")
      yield* say(bob, "kept for the audit trail", { room: "lobby" })
      yield* ask(alice, { command: "ROOM_DELETE", room: "lobby" })
      for (const wire of [bob, bob2]) {
        assert.deepStrictEqual(yield* wire.reply("ROOM_DELETED"), { type: "ROOM_DELETED", room: "lobby", by: "alice" })
      }
      yield* refused(bob, { command: "HISTORY", room: "lobby" }, "NO_SUCH_ROOM")
      yield* refused(bob, { command: "MSG", room: "lobby", text: "anyone?" }, "NO_SUCH_ROOM")
      // a new room of the same name does not show the old one's messages
      yield* create(bob, "lobby", "public")
      assert.deepStrictEqual(ids(yield* bob.ask({ command: "HISTORY", room: "lobby" }, "HISTORY")), [])
    }))

  it.scopedLive("MSG to a room: ACK, MESSAGE with room to the members' opted-in connections only", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer()
      const { wire: alice } = yield* member(port, "alice")
      const { wire: bob } = yield* member(port, "bob")
      const { wire: bobV1 } = yield* logIn(port, "bob")
      const { wire: carol } = yield* member(port, "carol")
      yield* create(alice, "ops", "private")
      yield* ask(alice, { command: "INVITE", room: "ops", user: "bob" })
      yield* bob.reply("INVITED")
      yield* bob.ask({ command: "JOIN", room: "ops" }, "ROOM")
      const ack = yield* say(alice, "deploying", { room: "OPS", client_msg_id: "d1", id: 9 })
      assert.deepStrictEqual(Object.keys(ack).sort(), ["client_msg_id", "id", "message_id", "timestamp", "type"])
      assert.deepStrictEqual(yield* bob.reply("MESSAGE"), {
        type: "MESSAGE",
        message_id: ack.message_id,
        from: "alice",
        to: null,
        room: "ops",
        text: "deploying",
        timestamp: ack.timestamp
      })
      // a resend with the same client_msg_id is answered by the first ACK and delivers nothing
      const again = yield* say(alice, "deploying", { room: "ops", client_msg_id: "d1" })
      assert.strictEqual(again.message_id, ack.message_id)
      for (const wire of [bobV1, carol]) {
        assert.deepStrictEqual(ofRoom(yield* framesBefore(alice, wire, "m"), "ops"), [])
      }
      assert.deepStrictEqual(ofRoom(yield* framesBefore(alice, bob, "m2"), "ops"), [])
      yield* refused(alice, { command: "MSG", room: "ops", to: "bob", text: "both" }, "INVALID_COMMAND")
      // MSG with room general is a public message, as without room
      const general = yield* say(alice, "to all", { room: "general" })
      const seen = yield* carol.pick((f) => f.type === "MESSAGE" && f.text === "to all")
      assert.deepStrictEqual([seen.message_id, seen.room], [general.message_id, "general"])
    }))

  it.scopedLive("HISTORY of a room pages like the timeline; a public room can be read without joining", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer()
      const { wire: alice } = yield* member(port, "alice")
      const { wire: bob } = yield* member(port, "bob")
      yield* create(alice, "lobby", "public")
      const sent: Array<number> = []
      for (let i = 0; i < 5; i++) {
        sent.push((yield* say(alice, `r${i}`, { room: "lobby" })).message_id as number)
        yield* say(alice, `g${i}`)
      }
      const all = yield* bob.ask({ command: "HISTORY", room: "lobby", id: "h" }, "HISTORY")
      assert.deepStrictEqual(ids(all), sent)
      assert.strictEqual((all.messages as Array<Frame>)[0]!.room, "lobby")
      const page = yield* bob.ask({ command: "HISTORY", room: "lobby", before: sent[3], limit: 2 }, "HISTORY")
      assert.deepStrictEqual([ids(page), page.has_more], [sent.slice(1, 3), true])
      const forward = yield* bob.ask({ command: "HISTORY", room: "lobby", after: sent[2] }, "HISTORY")
      assert.deepStrictEqual([ids(forward), forward.has_more], [sent.slice(3), false])
      // general's timeline holds none of the room's messages
      const general = yield* bob.ask({ command: "HISTORY", room: "general" }, "HISTORY")
      assert.deepStrictEqual((general.messages as Array<Frame>).map((m) => m.text), ["g0", "g1", "g2", "g3", "g4"])
      assert.deepStrictEqual(ids(general), ids(yield* bob.ask({ command: "HISTORY" }, "HISTORY")))
      yield* refused(bob, { command: "HISTORY", room: "lobby", with: "alice" }, "INVALID_COMMAND")
      yield* refused(bob, { command: "HISTORY", room: "nowhere" }, "NO_SUCH_ROOM")
    }))

  it.scopedLive("READ in a room moves the read mark forward; unread counts from it; no receipt", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer()
      const { wire: alice } = yield* member(port, "alice")
      const { wire: bob } = yield* member(port, "bob")
      yield* create(alice, "lobby", "public")
      yield* bob.ask({ command: "JOIN", room: "lobby" }, "ROOM")
      const sent: Array<number> = []
      for (let i = 0; i < 4; i++) sent.push((yield* say(alice, `r${i}`, { room: "lobby" })).message_id as number)
      const unread = (wire: Wire) =>
        Effect.map(
          wire.ask({ command: "JOIN", room: "lobby" }, "ROOM"),
          (reply) => (reply.room as Frame).unread
        )
      assert.strictEqual(yield* unread(bob), 4)
      yield* ask(bob, { command: "READ", room: "lobby", message_id: sent[2], id: "r" })
      assert.strictEqual(yield* unread(bob), 1)
      // never backwards
      yield* ask(bob, { command: "READ", room: "lobby", message_id: sent[0] })
      assert.strictEqual(yield* unread(bob), 1)
      // your own messages are never unread
      assert.strictEqual(yield* unread(alice), 0)
      const general = (yield* say(alice, "public")).message_id
      yield* refused(bob, { command: "READ", room: "lobby", message_id: general }, "NOT_FOUND")
      yield* refused(bob, { command: "READ", room: "lobby", message_id: 999_999 }, "NOT_FOUND")
      yield* ask(bob, { command: "READ", room: "general", message_id: general })
      const { wire: carol } = yield* member(port, "carol")
      yield* refused(carol, { command: "READ", room: "lobby", message_id: sent[0] }, "NOT_MEMBER")
      // replies keep request order, and a receipt would be queued before bob's OK: by alice's PONG it is here
      const atAlice = [...(yield* alice.sync()), ...alice.drainPending()]
      assert.deepStrictEqual(atAlice.filter((f) => f.type === "RECEIPT"), [])
    }))

  it.scopedLive("CONNECT with rooms: CONNECTED lists your rooms; resume_after replays them and only them", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer()
      const { wire: alice } = yield* member(port, "alice")
      const { wire: bob } = yield* member(port, "bob")
      yield* create(alice, "ops", "private", "on call")
      yield* create(alice, "lobby", "public")
      yield* ask(alice, { command: "INVITE", room: "ops", user: "bob" })
      yield* bob.ask({ command: "JOIN", room: "ops" }, "ROOM")
      const start = (yield* say(alice, "start")).message_id as number
      const inOps = (yield* say(alice, "in ops", { room: "ops" })).message_id as number
      yield* say(alice, "in lobby", { room: "lobby" })
      const inGeneral = (yield* say(alice, "in general")).message_id as number
      const { connected, wire: again } = yield* logIn(port, "bob", {
        password: PASSWORD,
        rooms: true,
        resume_after: start
      })
      assert.deepStrictEqual(connected.rooms, [
        { name: "general", visibility: "public", topic: "", members: 2, role: "member", unread: 2 },
        { name: "ops", visibility: "private", topic: "on call", members: 2, role: "member", unread: 1 }
      ])
      const replayed = yield* again.take(2, "MESSAGE")
      assert.deepStrictEqual(replayed.map((m) => [m.message_id, m.room]), [[inOps, "ops"], [inGeneral, "general"]])
      // without rooms: the version 1 replay, general and DMs only
      const { connected: v1, wire: old } = yield* logIn(port, "bob", { password: PASSWORD, resume_after: start })
      assert.notProperty(v1, "rooms")
      assert.deepStrictEqual((yield* old.take(1, "MESSAGE")).map((m) => m.message_id), [inGeneral])
      // a non-member of a private room gets nothing of it through resume_after
      yield* register(port, "carol")
      const { wire: carol } = yield* logIn(port, "carol", { password: PASSWORD, rooms: true, resume_after: 0 })
      const carolSees = yield* carol.take(2, "MESSAGE")
      assert.deepStrictEqual(carolSees.map((m) => m.text), ["start", "in general"])
    }))

  it.scopedLive("a version 1 connection of a room member sees exactly what it saw before", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer()
      const { wire: alice } = yield* member(port, "alice")
      yield* register(port, "bob")
      const { wire: bob } = yield* logIn(port, "bob")
      const { wire: bobRooms } = yield* device(port, "bob")
      yield* create(alice, "lobby", "public")
      yield* bobRooms.ask({ command: "JOIN", room: "lobby" }, "ROOM")
      yield* say(alice, "room message", { room: "lobby" })
      yield* ask(alice, { command: "TOPIC", room: "lobby", topic: "t" })
      yield* say(alice, "dm", { to: "bob" })
      const seen = yield* framesBefore(alice, bob, "public")
      assert.deepStrictEqual(seen.map((f) => [f.type, f.text]), [["MESSAGE", "dm"]])
      assert.strictEqual(seen[0]!.room, null)
      const history = yield* bob.ask({ command: "HISTORY" }, "HISTORY")
      assert.deepStrictEqual((history.messages as Array<Frame>).map((m) => [m.text, m.room]), [["public", "general"]])
    }))

  it.scopedLive("ROLE: owners change roles, the room hears of it; a room keeps an owner", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer()
      const { wire: alice } = yield* member(port, "alice")
      const { wire: bob } = yield* member(port, "bob")
      const { wire: carol } = yield* member(port, "carol")
      yield* create(alice, "lobby", "public")
      yield* bob.ask({ command: "JOIN", room: "lobby" }, "ROOM")
      yield* carol.ask({ command: "JOIN", room: "lobby" }, "ROOM")
      const notOwner = yield* refused(
        bob,
        { command: "ROLE", room: "lobby", user: "carol", role: "moderator" },
        "FORBIDDEN"
      )
      assert.strictEqual(notOwner.action, "ROLE")
      yield* ask(alice, { command: "ROLE", room: "lobby", user: "Bob", role: "moderator" })
      assert.deepStrictEqual(yield* carol.reply("MEMBER").pipe(Effect.repeat({ until: (f) => f.event === "role" })), {
        type: "MEMBER",
        room: "lobby",
        user: "bob",
        event: "role",
        role: "moderator",
        by: "alice"
      })
      yield* ask(bob, { command: "TOPIC", room: "lobby", topic: "moderated" })
      yield* refused(alice, { command: "ROLE", room: "lobby", user: "nobody", role: "member" }, "UNKNOWN_USER")
      yield* register(port, "dave")
      yield* refused(alice, { command: "ROLE", room: "lobby", user: "dave", role: "member" }, "NOT_FOUND")
      const lastOwner = yield* refused(
        alice,
        { command: "ROLE", room: "lobby", user: "alice", role: "member" },
        "FORBIDDEN"
      )
      assert.strictEqual(lastOwner.action, "last_owner")
      yield* ask(alice, { command: "ROLE", room: "lobby", user: "bob", role: "owner" })
      yield* ask(alice, { command: "ROLE", room: "lobby", user: "alice", role: "member" })
      const members = yield* carol.ask({ command: "MEMBERS", room: "lobby" }, "MEMBERS")
      assert.deepStrictEqual((members.members as Array<Frame>).map((m) => [m.user, m.role]), [
        ["bob", "owner"],
        ["alice", "member"],
        ["carol", "member"]
      ])
    }))

  it.scopedLive("KICK: the user gets MEMBER kicked on every connection at once, then nothing more of the room", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer()
      const { wire: alice } = yield* member(port, "alice")
      const { wire: bob } = yield* member(port, "bob")
      const { wire: bob2 } = yield* device(port, "bob")
      const { wire: carol } = yield* member(port, "carol")
      yield* create(alice, "ops", "private")
      for (const user of ["bob", "carol"]) yield* ask(alice, { command: "INVITE", room: "ops", user })
      yield* bob.ask({ command: "JOIN", room: "ops" }, "ROOM")
      yield* carol.ask({ command: "JOIN", room: "ops" }, "ROOM")
      yield* ask(alice, { command: "ROLE", room: "ops", user: "carol", role: "moderator" })
      const self = yield* refused(carol, { command: "KICK", room: "ops", user: "carol" }, "FORBIDDEN")
      assert.strictEqual(self.action, "self")
      const peer = yield* refused(bob, { command: "KICK", room: "ops", user: "carol" }, "FORBIDDEN")
      assert.strictEqual(peer.action, "KICK")
      yield* ask(alice, { command: "ROLE", room: "ops", user: "bob", role: "moderator" })
      const rank = yield* refused(carol, { command: "KICK", room: "ops", user: "bob" }, "FORBIDDEN")
      assert.strictEqual(rank.message, "a moderator cannot kick a moderator")
      yield* ask(alice, { command: "ROLE", room: "ops", user: "bob", role: "member" })
      // on a cluster the ROLE event may still be on its way to another node's connection
      for (const wire of [bob, bob2]) yield* wire.pick((f) => f.type === "MEMBER" && f.role === "member")
      yield* clear([bob, bob2])
      yield* ask(carol, { command: "KICK", room: "ops", user: "bob", reason: "flooding", id: "k" })
      const kicked = { type: "MEMBER", room: "ops", user: "bob", event: "kicked", by: "carol", reason: "flooding" }
      assert.deepStrictEqual(yield* alice.pick((f) => f.type === "MEMBER" && f.event === "kicked"), kicked)
      for (const wire of [bob, bob2]) assert.deepStrictEqual(yield* wire.next(), kicked)
      yield* say(alice, "after the kick", { room: "ops" })
      for (const wire of [bob, bob2]) {
        assert.deepStrictEqual(ofRoom(yield* framesBefore(alice, wire, "mark"), "ops"), [])
      }
      yield* refused(carol, { command: "KICK", room: "ops", user: "bob" }, "NOT_FOUND")
      // a private room needs a new invitation
      yield* refused(bob, { command: "JOIN", room: "ops" }, "NO_SUCH_ROOM")
      yield* ask(carol, { command: "INVITE", room: "ops", user: "bob" })
      yield* bob.ask({ command: "JOIN", room: "ops" }, "ROOM")
    }))

  // the in-process server runs on the test's TestClock: a ban's duration passes by TestClock.adjust
  it.scoped("BAN keeps a user out of every path until it expires (in-process, TestClock)", () =>
    Effect.gen(function*() {
      const { port } = yield* launchServer()
      const { wire: alice } = yield* member(port, "alice")
      const { wire: bob } = yield* member(port, "bob")
      const { wire: bob2 } = yield* device(port, "bob")
      yield* create(alice, "lobby", "public")
      yield* bob.ask({ command: "JOIN", room: "lobby" }, "ROOM")
      const before = (yield* say(alice, "before the ban", { room: "lobby" })).message_id as number
      for (const wire of [bob, bob2]) assert.strictEqual((yield* wire.reply("MESSAGE")).message_id, before)
      yield* clear([bob, bob2])
      yield* ask(alice, { command: "BAN", room: "lobby", user: "bob", duration_s: 60, reason: "spam" })
      const expiresAt = new Date(60_000).toISOString()
      const banned = {
        type: "MEMBER",
        room: "lobby",
        user: "bob",
        event: "banned",
        by: "alice",
        reason: "spam",
        expires_at: expiresAt
      }
      for (const wire of [bob, bob2]) assert.deepStrictEqual(yield* wire.next(), banned)
      const during = (yield* say(alice, "during the ban", { room: "lobby" })).message_id as number
      // live: nothing
      for (const wire of [bob, bob2]) assert.deepStrictEqual(ofRoom(yield* framesBefore(alice, wire, "m"), "lobby"), [])
      // JOIN, HISTORY, MSG: BANNED with the expiry
      for (
        const frame of [
          { command: "JOIN", room: "lobby" },
          { command: "HISTORY", room: "lobby" },
          { command: "MSG", room: "lobby", text: "let me in" }
        ]
      ) assert.strictEqual((yield* refused(bob, frame, "BANNED")).expires_at, expiresAt, frame.command)
      yield* refused(alice, { command: "INVITE", room: "lobby", user: "bob" }, "BANNED")
      // resume: not a member, so nothing of the room; unread: none
      const { connected, wire: again } = yield* device(port, "bob").pipe(
        Effect.zipRight(logIn(port, "bob", { password: PASSWORD, rooms: true, resume_after: before - 1 }))
      )
      assert.deepStrictEqual((connected.rooms as Array<Frame>).map((r) => r.name), ["general"])
      assert.deepStrictEqual(ofRoom(yield* framesBefore(alice, again, "m2"), "lobby"), [])
      const listed = yield* bob.ask({ command: "ROOMS" }, "ROOMS")
      assert.deepStrictEqual((listed.rooms as Array<Record<string, unknown>>).find((r) => r.name === "lobby"), {
        name: "lobby",
        visibility: "public",
        topic: "",
        members: 1,
        role: null,
        unread: 0
      })
      // past the expiry the ban has no effect, and membership is not restored
      yield* TestClock.adjust("61 seconds")
      assert.deepStrictEqual(ids(yield* bob.ask({ command: "HISTORY", room: "lobby" }, "HISTORY")), [before, during])
      yield* refused(alice, { command: "UNBAN", room: "lobby", user: "bob" }, "NOT_FOUND")
      yield* bob.ask({ command: "JOIN", room: "lobby" }, "ROOM")
    }))

  it.scopedLive("BAN before arrival, UNBAN told to moderators only; a ban until lifted", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer()
      const { wire: alice } = yield* member(port, "alice")
      const { wire: carol } = yield* member(port, "carol")
      const { wire: dave } = yield* member(port, "dave")
      yield* register(port, "bob")
      yield* create(alice, "lobby", "public")
      for (const wire of [carol, dave]) yield* wire.ask({ command: "JOIN", room: "lobby" }, "ROOM")
      yield* ask(alice, { command: "ROLE", room: "lobby", user: "carol", role: "moderator" })
      yield* ask(carol, { command: "BAN", room: "lobby", user: "bob" })
      const { wire: bob } = yield* device(port, "bob")
      assert.isNull((yield* refused(bob, { command: "JOIN", room: "lobby" }, "BANNED")).expires_at)
      yield* refused(dave, { command: "UNBAN", room: "lobby", user: "bob" }, "FORBIDDEN")
      yield* ask(carol, { command: "UNBAN", room: "lobby", user: "bob" })
      const unbanned = { type: "MEMBER", room: "lobby", user: "bob", event: "unbanned", by: "carol" }
      assert.deepStrictEqual(yield* alice.pick((f) => f.type === "MEMBER" && f.event === "unbanned"), unbanned)
      assert.deepStrictEqual((yield* framesBefore(alice, dave, "m")).filter((f) => f.event === "unbanned"), [])
      yield* bob.ask({ command: "JOIN", room: "lobby" }, "ROOM")
    }))

  it.scoped("MUTE: the user reads but cannot send until UNMUTE or the expiry (in-process, TestClock)", () =>
    Effect.gen(function*() {
      const { port } = yield* launchServer()
      const { wire: alice } = yield* member(port, "alice")
      const { wire: bob } = yield* member(port, "bob")
      yield* create(alice, "lobby", "public")
      yield* bob.ask({ command: "JOIN", room: "lobby" }, "ROOM")
      yield* ask(alice, { command: "MUTE", room: "lobby", user: "bob", duration_s: 600, reason: "not now" })
      const expiresAt = new Date(600_000).toISOString()
      assert.deepStrictEqual(yield* bob.pick((f) => f.type === "MEMBER" && f.event === "muted"), {
        type: "MEMBER",
        room: "lobby",
        user: "bob",
        event: "muted",
        by: "alice",
        reason: "not now",
        expires_at: expiresAt
      })
      const muted = yield* refused(bob, { command: "MSG", room: "lobby", text: "sorry" }, "MUTED")
      assert.strictEqual(muted.expires_at, expiresAt)
      assert.strictEqual(muted.message, `you are muted in lobby until ${expiresAt}`)
      // still reads
      yield* say(alice, "you can read this", { room: "lobby" })
      assert.strictEqual((yield* bob.reply("MESSAGE")).text, "you can read this")
      yield* ask(alice, { command: "UNMUTE", room: "lobby", user: "bob" })
      assert.strictEqual((yield* bob.pick((f) => f.type === "MEMBER" && f.event === "unmuted")).by, "alice")
      yield* say(bob, "thanks", { room: "lobby" })
      yield* refused(alice, { command: "UNMUTE", room: "lobby", user: "bob" }, "NOT_FOUND")
      // muting again replaces the expiry; past it the mute has no effect
      yield* ask(alice, { command: "MUTE", room: "lobby", user: "bob", duration_s: 5 })
      yield* refused(bob, { command: "MSG", room: "lobby", text: "still?" }, "MUTED")
      yield* TestClock.adjust("6 seconds")
      yield* say(bob, "free again", { room: "lobby" })
      const { wire: carol } = yield* member(port, "carol")
      yield* refused(alice, { command: "MUTE", room: "lobby", user: "carol" }, "NOT_FOUND")
      yield* refused(carol, { command: "MUTE", room: "lobby", user: "bob" }, "NOT_MEMBER")
    }))

  it.scopedLive("AUDIT pages the moderation log newest first, for moderators and owners only", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer()
      const { wire: alice } = yield* member(port, "alice")
      const { wire: bob } = yield* member(port, "bob")
      yield* create(alice, "ops", "private")
      yield* ask(alice, { command: "INVITE", room: "ops", user: "bob" })
      yield* bob.ask({ command: "JOIN", room: "ops" }, "ROOM")
      yield* ask(alice, { command: "TOPIC", room: "ops", topic: "on call" })
      yield* ask(alice, { command: "MUTE", room: "ops", user: "bob", reason: "quiet" })
      yield* ask(alice, { command: "UNMUTE", room: "ops", user: "bob" })
      yield* ask(alice, { command: "ROLE", room: "ops", user: "bob", role: "moderator" })
      yield* ask(alice, { command: "ROLE", room: "ops", user: "bob", role: "member" })
      yield* ask(alice, { command: "KICK", room: "ops", user: "bob" })
      yield* ask(alice, { command: "BAN", room: "ops", user: "bob", duration_s: 3600 })
      yield* ask(alice, { command: "UNBAN", room: "ops", user: "bob" })
      const page = yield* alice.ask({ command: "AUDIT", room: "ops", id: "a" }, "AUDIT")
      assert.strictEqual(page.id, "a")
      assert.isFalse(page.has_more)
      const entries = page.entries as Array<Frame>
      assert.deepStrictEqual(entries.map((e) => [e.actor, e.action, e.target, e.reason]), [
        ["alice", "unban", "bob", null],
        ["alice", "ban", "bob", null],
        ["alice", "kick", "bob", null],
        ["alice", "role", "bob", "member"],
        ["alice", "role", "bob", "moderator"],
        ["alice", "unmute", "bob", null],
        ["alice", "mute", "bob", "quiet"],
        ["alice", "topic", "on call", null],
        ["alice", "invite", "bob", null]
      ])
      assert.isString(entries[1]!.expires_at)
      assert.isNull(entries[6]!.expires_at)
      const first = yield* alice.ask({ command: "AUDIT", room: "ops", limit: 4 }, "AUDIT")
      assert.isTrue(first.has_more)
      const rest = yield* alice.ask(
        { command: "AUDIT", room: "ops", before: (first.entries as Array<Frame>)[3]!.id },
        "AUDIT"
      )
      assert.deepStrictEqual([...(first.entries as Array<Frame>), ...(rest.entries as Array<Frame>)], entries)
      const { wire: carol } = yield* member(port, "carol")
      yield* refused(carol, { command: "AUDIT", room: "ops" }, "NO_SUCH_ROOM")
      yield* ask(alice, { command: "INVITE", room: "ops", user: "carol" })
      yield* carol.ask({ command: "JOIN", room: "ops" }, "ROOM")
      assert.strictEqual((yield* refused(carol, { command: "AUDIT", room: "ops" }, "FORBIDDEN")).action, "AUDIT")
    }))

  it.scoped("EDIT: own room messages within 15 minutes; EDITED to the room; history and replay show the new text (in-process, TestClock)", () =>
    Effect.gen(function*() {
      // no idle timeout: a quarter of an hour passes without a frame
      const { port } = yield* launchServer({ idleTimeoutSeconds: 0 })
      const { wire: alice } = yield* member(port, "alice")
      const { wire: bob } = yield* member(port, "bob")
      const { wire: bobV1 } = yield* logIn(port, "bob")
      yield* create(alice, "lobby", "public")
      yield* bob.ask({ command: "JOIN", room: "lobby" }, "ROOM")
      const sent = yield* say(alice, "deploying in 5", { room: "lobby" })
      const id = sent.message_id as number
      yield* TestClock.adjust("14 minutes")
      yield* ask(alice, { command: "EDIT", message_id: id, text: "deploying now", id: "e" })
      const editedAt = new Date(14 * 60_000).toISOString()
      assert.deepStrictEqual(yield* bob.reply("EDITED"), {
        type: "EDITED",
        message_id: id,
        room: "lobby",
        text: "deploying now",
        edited_at: editedAt
      })
      const page = yield* bob.ask({ command: "HISTORY", room: "lobby" }, "HISTORY")
      assert.deepStrictEqual(page.messages, [{
        type: "MESSAGE",
        message_id: id,
        from: "alice",
        to: null,
        room: "lobby",
        text: "deploying now",
        timestamp: sent.timestamp,
        edited_at: editedAt
      }])
      const { wire: replay } = yield* logIn(port, "bob", { password: PASSWORD, rooms: true, resume_after: id - 1 })
      const replayed = yield* replay.expect("MESSAGE")
      assert.deepStrictEqual([replayed.text, replayed.edited_at], ["deploying now", editedAt])
      // someone else's message, a DM, an id nobody can see
      assert.strictEqual(
        (yield* refused(bob, { command: "EDIT", message_id: id, text: "mine" }, "FORBIDDEN")).action,
        "EDIT"
      )
      const dm = (yield* say(alice, "psst", { to: "bob" })).message_id
      assert.strictEqual(
        (yield* refused(alice, { command: "EDIT", message_id: dm, text: "x" }, "FORBIDDEN")).action,
        "EDIT"
      )
      const { wire: carol } = yield* member(port, "carol")
      yield* refused(carol, { command: "EDIT", message_id: dm, text: "x" }, "NOT_FOUND")
      yield* refused(carol, { command: "EDIT", message_id: 999_999, text: "x" }, "NOT_FOUND")
      yield* refused(alice, { command: "EDIT", message_id: id, text: " " }, "INVALID_COMMAND")
      // general: the edit reaches opted-in connections; a version 1 one gets no room event
      const general = (yield* say(alice, "hello all")).message_id
      yield* ask(alice, { command: "EDIT", message_id: general, text: "hello everyone" })
      assert.strictEqual((yield* bob.pick((f) => f.type === "EDITED" && f.message_id === general)).room, "general")
      const atV1 = yield* framesBefore(alice, bobV1, "mark")
      assert.deepStrictEqual(atV1.filter((f) => f.type !== "MESSAGE" && f.type !== "PRESENCE"), [])
      // 15 minutes after its timestamp, no more
      yield* TestClock.adjust("1 minute")
      yield* TestClock.adjust("1 second")
      const late = yield* refused(alice, { command: "EDIT", message_id: id, text: "too late" }, "FORBIDDEN")
      assert.strictEqual(late.action, "edit_window")
    }))

  it.scopedLive("DELETE: own messages at any time, anyone's for moderators (audited); gone from history and replay", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer()
      const { wire: alice } = yield* member(port, "alice")
      const { wire: bob } = yield* member(port, "bob")
      const { wire: carol } = yield* member(port, "carol")
      yield* create(alice, "ops", "private")
      for (const user of ["bob", "carol"]) yield* ask(alice, { command: "INVITE", room: "ops", user })
      for (const wire of [bob, carol]) yield* wire.ask({ command: "JOIN", room: "ops" }, "ROOM")
      const m1 = (yield* say(bob, "one", { room: "ops" })).message_id as number
      const m2 = (yield* say(bob, "two", { room: "ops" })).message_id as number
      const m3 = (yield* say(carol, "three", { room: "ops" })).message_id as number
      // on a cluster the last messages may still be on their way to another node's connections
      for (const [wire, last] of [[alice, m3], [bob, m3], [carol, m2]] as const) yield* arrived(wire, last)
      yield* clear([alice, bob, carol])
      assert.strictEqual((yield* refused(carol, { command: "DELETE", message_id: m1 }, "FORBIDDEN")).action, "DELETE")
      yield* ask(bob, { command: "DELETE", message_id: m2, id: "d" })
      for (const wire of [alice, carol]) {
        assert.deepStrictEqual(yield* wire.next(), { type: "DELETED", message_id: m2, room: "ops", by: "bob" })
      }
      yield* refused(bob, { command: "DELETE", message_id: m2 }, "NOT_FOUND")
      yield* refused(bob, { command: "EDIT", message_id: m2, text: "back" }, "NOT_FOUND")
      // a page with a deleted message is short, and has_more still follows the ids
      const page = yield* carol.ask({ command: "HISTORY", room: "ops", limit: 2 }, "HISTORY")
      assert.deepStrictEqual([ids(page), page.has_more], [[m3], true])
      assert.deepStrictEqual(ids(yield* carol.ask({ command: "HISTORY", room: "ops" }, "HISTORY")), [m1, m3])
      // a moderator deletes someone else's message, with a reason that goes to the audit log
      yield* ask(alice, { command: "DELETE", message_id: m1, reason: "spam" })
      assert.deepStrictEqual(yield* bob.next(), { type: "DELETED", message_id: m1, room: "ops", by: "alice" })
      const audit = yield* alice.ask({ command: "AUDIT", room: "ops", limit: 1 }, "AUDIT")
      const entry = (audit.entries as Array<Frame>)[0]!
      assert.deepStrictEqual([entry.actor, entry.action, entry.target, entry.reason], [
        "alice",
        "delete",
        String(m1),
        "spam"
      ])
      const { wire: replay } = yield* logIn(port, "carol", { password: PASSWORD, rooms: true, resume_after: m1 - 1 })
      assert.deepStrictEqual(ofRoom(yield* framesBefore(alice, replay, "mark"), "ops").map((m) => m.message_id), [m3])
      // someone outside the private room cannot tell the id exists
      const { wire: dave } = yield* member(port, "dave")
      yield* refused(dave, { command: "DELETE", message_id: m3 }, "NOT_FOUND")
    }))

  it.scopedLive("general's unread counts from the account's creation, then from READ", () =>
    Effect.gen(function*() {
      const { port } = yield* startServer()
      const { wire: alice } = yield* member(port, "alice")
      yield* say(alice, "before bob existed")
      const { connected } = yield* member(port, "bob")
      const general = (rooms: unknown) => (rooms as Array<Frame>)[0]!
      assert.strictEqual(general(connected.rooms).unread, 0)
      const later = (yield* say(alice, "after")).message_id
      yield* say(alice, "and again")
      const { connected: again, wire: bob } = yield* device(port, "bob")
      assert.strictEqual(general(again.rooms).unread, 2)
      yield* ask(bob, { command: "READ", room: "general", message_id: later })
      assert.strictEqual(general((yield* bob.ask({ command: "ROOMS" }, "ROOMS")).rooms).unread, 1)
    }))
})
