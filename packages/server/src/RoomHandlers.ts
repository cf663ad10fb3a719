/**
 * The room commands of protocol v1.2 (docs/protocol.md, "Rooms, roles and
 * moderation"): their entries of the command table. Each handler finds the
 * room, asks `authorize` (Authorization.ts) whether the actor may act, writes
 * through the group commit, answers, and then tells the room through the hub.
 * A change of membership reaches the hub's room sets before the reply, so
 * "leaving stops delivery at once" holds.
 */
import {
  Banned,
  encodeFrame,
  type Invite,
  type Join,
  type MemberInfo,
  type Members,
  NoSuchRoom,
  type Part,
  RateLimited,
  type Role,
  type RoomCreate,
  type RoomDelete,
  RoomNameTaken,
  type Rooms,
  type SetTopic
} from "@parley/protocol"
import { Clock, DateTime, Effect, Option } from "effect"
import { type Actor, authorize, type RoomAction, type Target } from "./Authorization.ts"
import { type CommandTable, resolveUser, type Shared, withId } from "./Command.ts"
import type { LoggedIn } from "./Connection.ts"
import { GENERAL_ID, type RoomRow } from "./RoomsRepo.ts"

/** How long an invitation lasts. */
const INVITE_MS = 7 * 24 * 60 * 60_000

/** The most members MEMBERS lists. */
const MEMBERS_LISTED = 1000

/** Actions whose rules need the room's member and owner counts (the last-owner rule). */
const NEEDS_COUNTS: ReadonlySet<RoomAction> = new Set(["PART", "ROLE"])

const ok = (conn: LoggedIn, id: Parameters<typeof withId>[1]) => conn.send(withId({ type: "OK" as const }, id))

/** The user a command names, resolved, with their standing in the room. */
export interface Subject {
  readonly id: number
  readonly username: string
  readonly standing: Actor
}

/**
 * Whom an action is about: a user named in the command (ROLE, KICK, BAN, …;
 * for ROLE with the role to give), or the sender of a message (EDIT, DELETE).
 */
export type About =
  | { readonly user: string; readonly newRole?: Role }
  | { readonly sender: number }

/** Stands in for a user nobody registered, so a refusal of the actor still comes before UNKNOWN_USER. */
const nobody: Target = { userId: -1, admin: false, role: null }

/**
 * The room named `name`, if `authorize` lets the connection's user do
 * `action` in it (on `about.user`, if given): a room nobody created is
 * NO_SUCH_ROOM, a refusal is the one `authorize` gives, and only then is an
 * unknown user UNKNOWN_USER (a private room stays hidden from outsiders).
 */
export const roomFor = (shared: Shared, name: string | RoomRow, conn: LoggedIn, action: RoomAction, about?: About) =>
  Effect.gen(function*() {
    const { rooms } = shared
    const found = typeof name === "string" ? yield* rooms.find(name) : Option.some(name)
    if (Option.isNone(found)) return yield* new NoSuchRoom({ message: `no room named ${name}` })
    const room = found.value
    const now = DateTime.formatIso(yield* DateTime.now)
    const actor: Actor = yield* rooms.actor(room.id, conn.auth.userId, now)
    const counts = NEEDS_COUNTS.has(action) ? yield* rooms.counts(room.id) : { members: 0, owners: 0 }
    const facts = { name: room.name, visibility: room.visibility, ...counts }
    let subject: Subject | undefined
    let target: Target | undefined
    if (about !== undefined && "sender" in about) {
      target = { userId: about.sender, admin: false, role: null }
    } else if (about !== undefined) {
      const known = yield* Effect.either(resolveUser(shared, about.user))
      if (known._tag === "Left") {
        const refusal = authorize(actor, action, facts, { ...nobody, ...withRole(about) })
        return yield* (refusal ?? known.left)
      }
      const standing = yield* rooms.actor(room.id, known.right.id, now)
      subject = { ...known.right, standing }
      target = { userId: subject.id, admin: standing.admin, role: standing.role, ...withRole(about) }
    }
    const refusal = authorize(actor, action, facts, target)
    if (refusal !== undefined) return yield* refusal
    return { room, actor, now, subject } as const
  })

/**
 * Forgets a deleted room on every node, its members' connections but one
 * getting `frame` last, and the room fast path's name and sanctions of it.
 */
export const dropRoom = (shared: Shared, roomId: number, frame: Uint8Array | null, except?: LoggedIn) => {
  shared.hub.dropRoom(roomId, frame, except)
  shared.roomNames.forget(roomId)
  shared.roomSanctions.clear(roomId)
}

const withRole = (
  about: { readonly newRole?: Role }
): { newRole?: Role } => (about.newRole === undefined ? {} : { newRole: about.newRole })

const roomCreate = (shared: Shared) => (command: RoomCreate, conn: LoggedIn) =>
  Effect.gen(function*() {
    const { commit, hub, roomCreations, rooms } = shared
    const me = conn.auth
    const key = String(me.userId)
    const wait = roomCreations.retryAfter(key, yield* Clock.currentTimeMillis)
    if (wait > 0) {
      return yield* new RateLimited({ message: "an account may create at most 20 rooms an hour", retryAfterMs: wait })
    }
    const now = yield* DateTime.now
    const created = yield* commit.write(
      rooms.create(command.room, command.visibility, command.topic ?? "", me.userId, DateTime.formatIso(now))
    )
    if (Option.isNone(created)) return yield* new RoomNameTaken({ message: `a room named ${command.room} exists` })
    roomCreations.record(key, now.epochMillis)
    hub.enterRoom(created.value, me.userId)
    conn.send(withId({ type: "ROOM" as const, room: yield* rooms.info(created.value, me.userId) }, command.id))
  })

const join = (shared: Shared) => (command: Join, conn: LoggedIn) =>
  Effect.gen(function*() {
    const { commit, hub, rooms } = shared
    const me = conn.auth
    const { now, room } = yield* roomFor(shared, command.room, conn, "JOIN")
    const joined = room.id !== GENERAL_ID && (yield* commit.write(rooms.join(room.id, me.userId, now)))
    if (joined) hub.enterRoom(room.id, me.userId)
    conn.send(withId({ type: "ROOM" as const, room: yield* rooms.info(room.id, me.userId) }, command.id))
    if (joined) {
      const event = { type: "MEMBER", room: room.name, user: me.username, event: "joined", role: "member" } as const
      hub.toRoom(room.id, encodeFrame(event), conn)
    }
  })

const part = (shared: Shared) => (command: Part, conn: LoggedIn) =>
  Effect.gen(function*() {
    const { commit, hub, rooms } = shared
    const me = conn.auth
    const { now, room } = yield* roomFor(shared, command.room, conn, "PART")
    const emptied = yield* commit.write(rooms.leave(room.id, me.userId, now))
    hub.exitRoom(room.id, me.userId)
    ok(conn, command.id)
    if (emptied) dropRoom(shared, room.id, null)
    else hub.toRoom(room.id, encodeFrame({ type: "MEMBER", room: room.name, user: me.username, event: "left" }))
  })

const listRooms = ({ rooms }: Shared) => (command: Rooms, conn: LoggedIn) =>
  Effect.map(
    rooms.list(conn.auth.userId, false),
    (list) => conn.send(withId({ type: "ROOMS" as const, rooms: list }, command.id))
  )

const rank = { owner: 0, moderator: 1, member: 2 } as const

const byRoleThenName = (a: MemberInfo, b: MemberInfo) =>
  rank[a.role] - rank[b.role] || a.user.toLowerCase().localeCompare(b.user.toLowerCase())

const members = (shared: Shared) => (command: Members, conn: LoggedIn) =>
  Effect.gen(function*() {
    const { hub, rooms } = shared
    const { room } = yield* roomFor(shared, command.room, conn, "MEMBERS")
    const rows = yield* rooms.members(room.id, MEMBERS_LISTED)
    const listed: Array<MemberInfo> = rows.map((r) => ({
      user: r.username,
      role: r.role,
      online: hub.isOnline(r.userId)
    }))
    let total: number
    if (room.id === GENERAL_ID) {
      // general: the users with a role, and everyone online
      const named = new Set(rows.map((r) => r.username))
      for (const user of hub.online()) if (!named.has(user)) listed.push({ user, role: "member", online: true })
      listed.sort(byRoleThenName)
      total = listed.length
    } else {
      total = (yield* rooms.counts(room.id)).members
    }
    const list = listed.slice(0, MEMBERS_LISTED)
    conn.send(withId({ type: "MEMBERS" as const, room: room.name, members: list, total }, command.id))
  })

const setTopic = (shared: Shared) => (command: SetTopic, conn: LoggedIn) =>
  Effect.gen(function*() {
    const { commit, hub, rooms } = shared
    const me = conn.auth
    const { now, room } = yield* roomFor(shared, command.room, conn, "TOPIC")
    yield* commit.write(Effect.zipRight(
      rooms.setTopic(room.id, command.topic),
      rooms.audit({
        roomId: room.id,
        actorId: me.userId,
        action: "topic",
        target: command.topic,
        reason: null,
        expiresAt: null,
        at: now
      })
    ))
    ok(conn, command.id)
    hub.toRoom(room.id, encodeFrame({ type: "TOPIC", room: room.name, topic: command.topic, by: me.username }), conn)
  })

const invite = (shared: Shared) => (command: Invite, conn: LoggedIn) =>
  Effect.gen(function*() {
    const { commit, hub, rooms } = shared
    const me = conn.auth
    const { now, room } = yield* roomFor(shared, command.room, conn, "INVITE")
    const target = yield* resolveUser(shared, command.user)
    const theirs = yield* rooms.actor(room.id, target.id, now)
    if (theirs.ban !== undefined) {
      return yield* new Banned({
        message: `${target.username} is banned from ${room.name}; lift the ban first`,
        expiresAt: theirs.ban.expiresAt
      })
    }
    // a member, or someone already invited: nothing changes
    if (theirs.role !== null || theirs.invited) return ok(conn, command.id)
    if (room.visibility === "private") {
      const expiresAt = new Date((yield* Clock.currentTimeMillis) + INVITE_MS).toISOString()
      yield* commit.write(Effect.zipRight(
        rooms.invite(room.id, target.id, me.userId, now, expiresAt),
        rooms.audit({
          roomId: room.id,
          actorId: me.userId,
          action: "invite",
          target: target.username,
          reason: null,
          expiresAt,
          at: now
        })
      ))
    }
    ok(conn, command.id)
    hub.toUserInRooms(target.id, encodeFrame({ type: "INVITED", room: room.name, by: me.username }))
  })

const roomDelete = (shared: Shared) => (command: RoomDelete, conn: LoggedIn) =>
  Effect.gen(function*() {
    const { commit, rooms } = shared
    const { now, room } = yield* roomFor(shared, command.room, conn, "ROOM_DELETE")
    yield* commit.write(rooms.remove(room.id, now))
    ok(conn, command.id)
    // the last frame of the room its members get
    const frame = encodeFrame({ type: "ROOM_DELETED", room: room.name, by: conn.auth.username })
    dropRoom(shared, room.id, frame, conn)
  })

type RoomCommandName = "ROOM_CREATE" | "JOIN" | "PART" | "ROOMS" | "MEMBERS" | "TOPIC" | "INVITE" | "ROOM_DELETE"

/** The room commands' entries of the command table: all after login only. */
export const roomCommands = (shared: Shared): Pick<CommandTable, RoomCommandName> => ({
  ROOM_CREATE: { access: "member", handle: roomCreate(shared) },
  JOIN: { access: "member", handle: join(shared) },
  PART: { access: "member", handle: part(shared) },
  ROOMS: { access: "member", handle: listRooms(shared) },
  MEMBERS: { access: "member", handle: members(shared) },
  TOPIC: { access: "member", handle: setTopic(shared) },
  INVITE: { access: "member", handle: invite(shared) },
  ROOM_DELETE: { access: "member", handle: roomDelete(shared) }
})
