/**
 * Moderation (docs/protocol.md, "Moderation" and "Server admins and locked
 * accounts"): in a room ROLE, KICK, BAN, UNBAN, MUTE, UNMUTE and AUDIT; of an
 * account LOCK and UNLOCK. As for the other room commands, `roomFor`
 * asks `authorize` first; each action is written with its audit entry in one
 * group-commit operation, answered, and then told to the room. A user put
 * out of a room (KICK, BAN) gets the event that says so and then nothing
 * more of the room: their connections leave the room's set in the same turn.
 */
import {
  type Audit,
  type AuditAction,
  type Ban,
  DEFAULT_HISTORY_LIMIT,
  encodeFrame,
  type Kick,
  type Lock,
  type Mute,
  NotFound,
  type RequestId,
  type SetRole,
  type Unban,
  type Unlock,
  type Unmute
} from "@parley/protocol"
import { Clock, DateTime, Effect } from "effect"
import { authorizeAccount } from "./Authorization.ts"
import type { CommandTable, Shared } from "./Command.ts"
import { resolveUser, withId } from "./Command.ts"
import type { LoggedIn } from "./Connection.ts"
import { dropRoom, roomFor } from "./RoomHandlers.ts"
import { GENERAL_ID } from "./RoomsRepo.ts"

const ok = (conn: LoggedIn, id: RequestId | undefined) => conn.send(withId({ type: "OK" as const }, id))

const notMember = (user: string, room: string) => new NotFound({ message: `${user} is not a member of ${room}` })

/** The audit entry of an action, written in the same commit as the action. */
const audited = <A>(
  shared: Shared,
  write: Effect.Effect<A>,
  entry: {
    readonly roomId: number
    readonly actorId: number
    readonly action: AuditAction
    readonly target: string
    readonly reason?: string | undefined
    readonly expiresAt?: string | null
    readonly at: string
  }
) =>
  shared.commit.write(Effect.zipLeft(
    write,
    shared.rooms.audit({ ...entry, reason: entry.reason ?? null, expiresAt: entry.expiresAt ?? null })
  ))

/** When a sanction of `duration_s` seconds from now ends (null: until lifted). */
const expiry = (durationS: number | undefined) =>
  durationS === undefined
    ? Effect.succeed(null)
    : Effect.map(Clock.currentTimeMillis, (now) => new Date(now + durationS * 1000).toISOString())

const setRole = (shared: Shared) => (command: SetRole, conn: LoggedIn) =>
  Effect.gen(function*() {
    const about = { user: command.user, newRole: command.role }
    const { now, room, subject } = yield* roomFor(shared, command.room, conn, "ROLE", about)
    const target = subject!
    if (target.standing.role === null) return yield* notMember(target.username, room.name)
    const me = conn.auth
    // the new role is the entry's reason: what the change was
    yield* audited(shared, shared.rooms.setRole(room.id, target.id, command.role, now), {
      roomId: room.id,
      actorId: me.userId,
      action: "role",
      target: target.username,
      reason: command.role,
      at: now
    })
    ok(conn, command.id)
    const event = {
      type: "MEMBER",
      room: room.name,
      user: target.username,
      event: "role",
      role: command.role,
      by: me.username
    } as const
    shared.hub.toRoom(room.id, encodeFrame(event), conn)
  })

const kick = (shared: Shared) => (command: Kick, conn: LoggedIn) =>
  Effect.gen(function*() {
    const { now, room, subject } = yield* roomFor(shared, command.room, conn, "KICK", { user: command.user })
    const target = subject!
    if (target.standing.role === null) return yield* notMember(target.username, room.name)
    const me = conn.auth
    const emptied = yield* audited(shared, shared.rooms.leave(room.id, target.id, now), {
      roomId: room.id,
      actorId: me.userId,
      action: "kick",
      target: target.username,
      reason: command.reason,
      at: now
    })
    const reason = command.reason ?? null
    const event = {
      type: "MEMBER",
      room: room.name,
      user: target.username,
      event: "kicked",
      by: me.username,
      reason
    } as const
    shared.hub.toRoom(room.id, encodeFrame(event), conn)
    shared.hub.exitRoom(room.id, target.id)
    if (emptied) dropRoom(shared, room.id, null)
    ok(conn, command.id)
  })

/**
 * BAN and MUTE alike: the sanction written with its audit entry, and the
 * MEMBER event that tells the room (sent by each handler at its own moment).
 */
const impose = (shared: Shared, kind: "ban" | "mute", command: Ban | Mute, conn: LoggedIn) =>
  Effect.gen(function*() {
    const action = kind === "ban" ? "BAN" : "MUTE"
    const { now, room, subject } = yield* roomFor(shared, command.room, conn, action, { user: command.user })
    const target = subject!
    if (kind === "mute" && target.standing.role === null) return yield* notMember(target.username, room.name)
    const me = conn.auth
    const expiresAt = yield* expiry(command.duration_s)
    const reason = command.reason ?? null
    const write = shared.rooms.sanction(kind, {
      roomId: room.id,
      userId: target.id,
      by: me.userId,
      expiresAt,
      reason,
      at: now
    })
    yield* audited(shared, write, {
      roomId: room.id,
      actorId: me.userId,
      action: kind,
      target: target.username,
      reason: command.reason,
      expiresAt,
      at: now
    })
    // before the reply: the room MSG fast path must send the user's next MSG to the database
    if (room.id !== GENERAL_ID) shared.roomSanctions.impose(kind, room.id, target.id, expiresAt)
    const event = encodeFrame({
      type: "MEMBER",
      room: room.name,
      user: target.username,
      event: kind === "ban" ? "banned" : "muted",
      by: me.username,
      reason,
      expires_at: expiresAt
    })
    return { room, target, event }
  })

const ban = (shared: Shared) => (command: Ban, conn: LoggedIn) =>
  Effect.gen(function*() {
    const { event, room, target } = yield* impose(shared, "ban", command, conn)
    // the banned user hears of it before leaving the room's deliveries
    shared.hub.toRoom(room.id, event, conn)
    shared.hub.exitRoom(room.id, target.id)
    ok(conn, command.id)
  })

const mute = (shared: Shared) => (command: Mute, conn: LoggedIn) =>
  Effect.gen(function*() {
    const { event, room, target } = yield* impose(shared, "mute", command, conn)
    if (room.id === GENERAL_ID) {
      shared.generalMutes.add(target.id)
      yield* shared.relay.sendSettled({ k: "generalMute", user: target.id, muted: true })
    }
    ok(conn, command.id)
    shared.hub.toRoom(room.id, event, conn)
  })

/** UNBAN and UNMUTE: lift a sanction in force (NOT_FOUND without one); UNBAN is told to moderators only. */
const lift = (shared: Shared, kind: "ban" | "mute") => (command: Unban | Unmute, conn: LoggedIn) =>
  Effect.gen(function*() {
    const action = kind === "ban" ? "UNBAN" : "UNMUTE"
    const { now, room, subject } = yield* roomFor(shared, command.room, conn, action, { user: command.user })
    const target = subject!
    if ((kind === "ban" ? target.standing.ban : target.standing.mute) === undefined) {
      return yield* new NotFound({ message: `${target.username} is not ${kind}ned in ${room.name}` })
    }
    const me = conn.auth
    yield* audited(shared, shared.rooms.lift(kind, room.id, target.id, now), {
      roomId: room.id,
      actorId: me.userId,
      action: kind === "ban" ? "unban" : "unmute",
      target: target.username,
      at: now
    })
    if (room.id !== GENERAL_ID) shared.roomSanctions.lift(kind, room.id, target.id)
    if (kind === "mute" && room.id === GENERAL_ID) {
      shared.generalMutes.delete(target.id)
      shared.relay.send({ k: "generalMute", user: target.id, muted: false })
    }
    ok(conn, command.id)
    const event = encodeFrame({
      type: "MEMBER",
      room: room.name,
      user: target.username,
      event: kind === "ban" ? "unbanned" : "unmuted",
      by: me.username
    })
    if (kind === "mute") return shared.hub.toRoom(room.id, event, conn)
    shared.hub.toRoomUsers(room.id, yield* shared.rooms.moderators(room.id), event, conn)
  })

const audit = (shared: Shared) => (command: Audit, conn: LoggedIn) =>
  Effect.gen(function*() {
    const { room } = yield* roomFor(shared, command.room, conn, "AUDIT")
    const limit = command.limit ?? DEFAULT_HISTORY_LIMIT
    const rows = yield* shared.rooms.auditPage(room.id, command.before, limit)
    const entries = rows.slice(0, limit)
    conn.send(withId({ type: "AUDIT" as const, room: room.name, entries, has_more: rows.length > limit }, command.id))
  })

/** The actor's standing as a server admin, checked before anything about the user named is read. */
const adminOnly = (shared: Shared, conn: LoggedIn, action: "LOCK" | "UNLOCK") =>
  Effect.gen(function*() {
    const mine = yield* shared.users.standing(conn.auth.userId)
    const refusal = authorizeAccount(mine, action, { admin: false })
    if (refusal !== undefined) return yield* refusal
    return mine
  })

/** LOCK: the account's tokens revoked and its login refused (committed first), then `BYE locked` to its sessions. */
const lock = (shared: Shared) => (command: Lock, conn: LoggedIn) =>
  Effect.gen(function*() {
    const mine = yield* adminOnly(shared, conn, "LOCK")
    const target = yield* resolveUser(shared, command.user)
    const refusal = authorizeAccount(mine, "LOCK", yield* shared.users.standing(target.id))
    if (refusal !== undefined) return yield* refusal
    const now = DateTime.formatIso(yield* DateTime.now)
    yield* shared.commit.write(
      Effect.zipRight(shared.users.setLocked(target.id, now), shared.tokens.revokeAll(target.id))
    )
    shared.locked.add(target.id)
    ok(conn, command.id)
    shared.hub.lock(target.id)
    yield* Effect.logInfo("account locked").pipe(
      Effect.annotateLogs({ user: target.username, by: conn.auth.username, reason: command.reason ?? "" })
    )
  })

const unlock = (shared: Shared) => (command: Unlock, conn: LoggedIn) =>
  Effect.gen(function*() {
    yield* adminOnly(shared, conn, "UNLOCK")
    const target = yield* resolveUser(shared, command.user)
    if ((yield* shared.users.standing(target.id)).lockedAt === null) {
      return yield* new NotFound({ message: `${target.username} is not locked` })
    }
    yield* shared.commit.write(shared.users.setLocked(target.id, null))
    shared.locked.delete(target.id)
    shared.relay.send({ k: "lock", user: target.id, locked: false })
    ok(conn, command.id)
  })

type ModerationCommandName = "ROLE" | "KICK" | "BAN" | "UNBAN" | "MUTE" | "UNMUTE" | "AUDIT" | "LOCK" | "UNLOCK"

/** The moderation commands' entries of the command table: all after login only. */
export const moderationCommands = (shared: Shared): Pick<CommandTable, ModerationCommandName> => ({
  ROLE: { access: "member", handle: setRole(shared) },
  KICK: { access: "member", handle: kick(shared) },
  BAN: { access: "member", handle: ban(shared) },
  UNBAN: { access: "member", handle: lift(shared, "ban") },
  MUTE: { access: "member", handle: mute(shared) },
  UNMUTE: { access: "member", handle: lift(shared, "mute") },
  AUDIT: { access: "member", handle: audit(shared) },
  LOCK: { access: "member", handle: lock(shared) },
  UNLOCK: { access: "member", handle: unlock(shared) }
})
