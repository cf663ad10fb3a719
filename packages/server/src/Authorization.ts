/**
 * Who may do what in a room (docs/protocol.md, "Roles and who may do what"):
 * one pure function of the actor, the action, the room and the target,
 * answering `undefined` (allowed) or the typed refusal to send. Every room
 * handler asks it, and no handler decides a role rule on its own.
 *
 * The facts (roles, bans, mutes, invitations) are read by the caller at the
 * time of the command; a ban or mute past its expiry is simply not a fact.
 */
import {
  Banned,
  Forbidden,
  GENERAL_ROOM,
  Muted,
  NoSuchRoom,
  NotMember,
  type Role,
  type Visibility
} from "@parley/protocol"

/** What a command asks to do in a room; the moderation actions are named after their commands. */
export type RoomAction =
  | "JOIN"
  | "PART"
  | "SEND"
  | "READ"
  | "MARK_READ"
  | "MEMBERS"
  | "TOPIC"
  | "INVITE"
  | "ROLE"
  | "KICK"
  | "BAN"
  | "UNBAN"
  | "MUTE"
  | "UNMUTE"
  | "EDIT"
  | "DELETE"
  | "AUDIT"
  | "ROOM_DELETE"

/** A ban or mute in force: until `expiresAt` (null: until lifted). */
export interface Sanction {
  readonly expiresAt: string | null
}

/** The actor as the room sees them. */
export interface Actor {
  readonly userId: number
  readonly admin: boolean
  /** Their role in the room; null when not a member (in `general`, every user is at least `member`). */
  readonly role: Role | null
  readonly ban: Sanction | undefined
  readonly mute: Sanction | undefined
  /** Holds an unexpired invitation to the room. */
  readonly invited: boolean
}

export interface RoomFacts {
  readonly name: string
  readonly visibility: Visibility
  /** How many members, and how many of them owners (for the last-owner rule). */
  readonly members: number
  readonly owners: number
}

/** The user an action is about: the one kicked, banned, given a role, or whose message is deleted. */
export interface Target {
  readonly userId: number
  readonly admin: boolean
  /** Their role in the room; null when not a member. */
  readonly role: Role | null
  /** ROLE: the role they are to get. */
  readonly newRole?: Role
}

export type Refusal = NoSuchRoom | NotMember | Forbidden | Banned | Muted

/** Where a non-member who is not a server admin may still look: a public room's history and members. */
const OPEN_TO_VISITORS: ReadonlySet<RoomAction> = new Set(["READ", "MEMBERS"])

/**
 * What a banned user is refused with BANNED: joining, reading and sending
 * (the error tables list BANNED for no other command; MEMBERS of a public
 * room stays open to them as to any visitor).
 */
const BARRED: ReadonlySet<RoomAction> = new Set(["JOIN", "READ", "SEND"])

/** What needs a membership even of a server admin: leaving, and a read mark. */
const MEMBERS_ONLY: ReadonlySet<RoomAction> = new Set(["PART", "MARK_READ"])

/** Moderators and owners only (server admins too). */
const MODERATION: ReadonlySet<RoomAction> = new Set(["TOPIC", "AUDIT"])

/** Actions on another user that need outranking them. */
const ON_A_USER: ReadonlySet<RoomAction> = new Set(["KICK", "BAN", "UNBAN", "MUTE", "UNMUTE"])

/** Everyone is in general for good: what would put someone out of it. */
const NOT_IN_GENERAL: ReadonlySet<RoomAction> = new Set(["KICK", "BAN", "UNBAN"])

/** What nobody may do to themselves (PART is the way out). */
const NOT_ON_SELF: ReadonlySet<RoomAction> = new Set(["KICK", "BAN", "MUTE"])

const forbidden = (action: string, message: string) => new Forbidden({ action, message })

const isGeneral = (room: RoomFacts) => room.name === GENERAL_ROOM

const rank = (role: Role | null): number => (role === "owner" ? 2 : role === "moderator" ? 1 : 0)

/**
 * Allowed (`undefined`) or why not. `target` is required for ROLE, the
 * moderation actions and DELETE/EDIT (the message's sender).
 */
export const authorize = (
  actor: Actor,
  action: RoomAction,
  room: RoomFacts,
  target?: Target
): Refusal | undefined => {
  const member = actor.role !== null
  if (!member && !actor.admin && room.visibility === "private" && !(action === "JOIN" && actor.invited)) {
    return new NoSuchRoom({ message: `no room named ${room.name}` })
  }
  if (actor.ban !== undefined && !actor.admin && BARRED.has(action)) {
    return new Banned({ message: bannedMessage(room, actor.ban), expiresAt: actor.ban.expiresAt })
  }
  if (action === "JOIN") return undefined
  const visiting = OPEN_TO_VISITORS.has(action) && room.visibility === "public"
  if (!member && ((!actor.admin && !visiting) || MEMBERS_ONLY.has(action))) {
    return new NotMember({ message: `you are not a member of ${room.name}` })
  }
  return allowedByRole(actor, action, room, target)
}

/** LOCK and UNLOCK: server admins only, and an admin cannot be locked (revoke the admin first). */
export const authorizeAccount = (
  actor: { readonly admin: boolean },
  action: "LOCK" | "UNLOCK",
  target: { readonly admin: boolean }
): Forbidden | undefined => {
  if (!actor.admin) return forbidden(action, `only server admins may use ${action}`)
  if (action === "LOCK" && target.admin) return forbidden(action, "an admin cannot be locked: revoke the admin first")
  return undefined
}

const bannedMessage = (room: RoomFacts, ban: Sanction) =>
  ban.expiresAt === null
    ? `you are banned from ${room.name}`
    : `you are banned from ${room.name} until ${ban.expiresAt}`

/** The role table, for an actor who may see the room. */
const allowedByRole = (actor: Actor, action: RoomAction, room: RoomFacts, target?: Target): Refusal | undefined => {
  const role = rank(actor.role)
  switch (action) {
    case "SEND":
      if (actor.mute === undefined) return undefined
      return new Muted({
        message: actor.mute.expiresAt === null
          ? `you are muted in ${room.name}`
          : `you are muted in ${room.name} until ${actor.mute.expiresAt}`,
        expiresAt: actor.mute.expiresAt
      })
    case "READ":
    case "MARK_READ":
    case "MEMBERS":
      return undefined
    case "PART":
      return part(actor, room)
    case "INVITE":
      return room.visibility === "public" || actor.admin || role >= 1
        ? undefined
        : forbidden("INVITE", "only moderators and owners may invite to a private room")
    case "ROLE":
      return setRole(actor, room, target!)
    case "ROOM_DELETE":
      if (isGeneral(room)) return forbidden("delete_general", "general cannot be deleted")
      return actor.admin || role === 2 ? undefined : forbidden("ROOM_DELETE", "only owners may delete a room")
    case "EDIT":
      return target!.userId === actor.userId ? undefined : forbidden("EDIT", "you can edit only your own messages")
    case "DELETE":
      return target!.userId === actor.userId || actor.admin || role >= 1
        ? undefined
        : forbidden("DELETE", "only moderators and owners may delete someone else's message")
    default:
      if (MODERATION.has(action)) {
        return actor.admin || role >= 1 ? undefined : forbidden(action, `only moderators and owners may use ${action}`)
      }
      if (!ON_A_USER.has(action)) return forbidden(action, `${action} is not allowed`)
      if (isGeneral(room) && NOT_IN_GENERAL.has(action)) {
        return forbidden(
          action,
          "nobody is kicked or banned from general: mute them, or have an admin lock the account"
        )
      }
      return onUser(actor, action, target!)
  }
}

const part = (actor: Actor, room: RoomFacts): Refusal | undefined => {
  if (isGeneral(room)) return forbidden("part_general", "nobody can leave general")
  if (actor.role === "owner" && room.owners === 1 && room.members > 1) {
    return forbidden("last_owner", "make someone else owner before you leave")
  }
  return undefined
}

const setRole = (actor: Actor, room: RoomFacts, target: Target): Refusal | undefined => {
  if (!actor.admin && actor.role !== "owner") return forbidden("ROLE", "only owners may change roles")
  if (isGeneral(room) && target.newRole === "owner") return forbidden("ROLE", "general has no owners")
  if (
    target.userId === actor.userId && actor.role === "owner" && target.newRole !== "owner" && room.owners === 1
  ) return forbidden("last_owner", "a room keeps at least one owner: make someone else owner first")
  return undefined
}

/** KICK, BAN, UNBAN, MUTE, UNMUTE: a moderator outranks members, an owner moderators too, an admin anyone but admins. */
const onUser = (actor: Actor, action: RoomAction, target: Target): Refusal | undefined => {
  const verb = action.toLowerCase()
  if (NOT_ON_SELF.has(action) && target.userId === actor.userId) {
    return forbidden("self", `you cannot ${verb} yourself; use PART to leave`)
  }
  if (target.admin) return forbidden(action, `nobody can ${verb} a server admin`)
  if (actor.admin) return undefined
  const role = rank(actor.role)
  if (role === 0) return forbidden(action, `only moderators and owners may ${verb}`)
  if (rank(target.role) >= role) return forbidden(action, `a ${actor.role} cannot ${verb} a ${target.role}`)
  return undefined
}
