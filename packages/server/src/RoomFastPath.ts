/**
 * What the MSG fast path (`msgNow` in Command.ts) needs to send to a room
 * other than `general` without reading the database, and why its answer is
 * the database's. `authorize` (Authorization.ts) lets a user SEND in a room
 * when the room exists, they are a member, no ban of theirs is in force
 * (unless they are a server admin) and no mute of theirs is in force. On a
 * node that is the whole service (no `--bus`):
 *
 * - the room: `RoomNames` maps the name a MSG gave to the room the slow path
 *   found for it. Names are ASCII and unique without regard to case, so the
 *   lowercased name is the key. A deleted room is forgotten, and a stale
 *   entry is harmless anyway: nobody is in a deleted room's set.
 * - membership: the hub's room set holds an opted-in connection only while
 *   its user is a member (JOIN, ROOM_CREATE and login put it in after the
 *   commit; PART, KICK, BAN and deletion take it out before their reply).
 * - bans and mutes: `RoomSanctions` holds every (room, user) with a ban or a
 *   mute that may be in force, loaded at start and kept by BAN, MUTE, UNBAN
 *   and UNMUTE before their reply, with its expiry. A member under one takes
 *   the slow path, which reads the database (an admin's exemption from a
 *   ban, which `parley-server admin` may change at any time, included).
 *
 * Anything else (a name not seen yet, a connection not in the set, a
 * possible sanction, a cluster, whose other nodes change the sets by notices
 * that do not wait for the bus) takes the slow path, which asks the database.
 */

/** A room as a MESSAGE names it and a row stores it. */
export interface RoomRef {
  readonly id: number
  readonly name: string
}

/** Names remembered at most; past that the cache starts again (it is refilled by the slow path). */
const MAX_NAMES = 10_000

/** Rooms by the name MSGs gave them (case aside), as the database last answered. */
export class RoomNames {
  private readonly byName = new Map<string, RoomRef>()

  get(name: string): RoomRef | undefined {
    return this.byName.get(name.toLowerCase())
  }

  remember(name: string, room: RoomRef): void {
    if (this.byName.size >= MAX_NAMES) this.byName.clear()
    this.byName.set(name.toLowerCase(), { id: room.id, name: room.name })
  }

  /** A room was deleted. */
  forget(roomId: number): void {
    for (const [name, room] of this.byName) if (room.id === roomId) this.byName.delete(name)
  }
}

/** A ban's and a mute's end, in epoch milliseconds (0: none, Infinity: until lifted). */
interface Ends {
  ban: number
  mute: number
}

/** An end the clock cannot read counts as never: the slow path then decides. */
const endOf = (expiresAt: string | null): number => {
  const end = expiresAt === null ? NaN : Date.parse(expiresAt)
  return Number.isNaN(end) ? Infinity : end
}

/** The (room, user) pairs under a ban or mute that may be in force, in rooms other than `general`. */
export class RoomSanctions {
  private readonly byRoom = new Map<number, Map<number, Ends>>()

  /** A ban or mute was written (replacing an earlier one of the same kind). */
  impose(kind: "ban" | "mute", roomId: number, userId: number, expiresAt: string | null): void {
    let users = this.byRoom.get(roomId)
    if (users === undefined) this.byRoom.set(roomId, users = new Map())
    let ends = users.get(userId)
    if (ends === undefined) users.set(userId, ends = { ban: 0, mute: 0 })
    ends[kind] = endOf(expiresAt)
  }

  /** A ban or mute was lifted. */
  lift(kind: "ban" | "mute", roomId: number, userId: number): void {
    const ends = this.byRoom.get(roomId)?.get(userId)
    if (ends !== undefined) ends[kind] = 0
  }

  /** A room was deleted, and its sanctions with it. */
  clear(roomId: number): void {
    this.byRoom.delete(roomId)
  }

  /**
   * Whether a ban or mute of the user in the room may be in force at `now`
   * (the database's rule: in force while its end is after now).
   */
  mayHold(roomId: number, userId: number, now: number): boolean {
    const ends = this.byRoom.get(roomId)?.get(userId)
    return ends !== undefined && (ends.ban > now || ends.mute > now)
  }
}
