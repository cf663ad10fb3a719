/**
 * The hub: who is connected as whom, and the fan-out of committed messages
 * to their connections. Delivery is a synchronous push into each
 * recipient's bounded outbox, so one slow reader never slows a publisher,
 * and every frame is encoded once for all of its recipients.
 */
import { encodeFrame, type Message } from "@parley/protocol"
import { Effect } from "effect"
import { Metrics } from "./Metrics.ts"
import { GENERAL_ID } from "./RoomsRepo.ts"

/** A logged-in connection's session. */
export interface Authenticated {
  readonly userId: number
  readonly username: string
  readonly sessionId: number
  /** Hash of the token this session logged in with or was given (REVOKE revokes it). */
  readonly tokenHash: string
  /** When its CONNECT succeeded (ISO 8601). */
  readonly connectTime: string
  /** Its CONNECT asked for room traffic (`"rooms": true`, protocol v1.2). */
  readonly rooms: boolean
}

/** A connection as the hub sees it. */
export interface Peer {
  readonly connectionId: number
  readonly remoteAddress: string
  /** Its session once CONNECT has succeeded; none before. */
  readonly auth: Authenticated | undefined
  /** Set once the server is closing it. */
  readonly closing: string | undefined
  /** Queues an encoded frame; `messageId` marks a MESSAGE event (for replay merging). */
  deliver(frame: Uint8Array, messageId?: number): void
  /** Ends the connection after `BYE revoked` (or `BYE locked`: its account was locked). */
  revoke(reason?: "revoked" | "locked"): void
}

/** A logged-in connection: the only kind the hub indexes and delivers to. */
export interface Member extends Peer {
  readonly auth: Authenticated
}

/** Narrows a connection to a logged-in one. */
export const isMember = <P extends Peer>(peer: P): peer is P & Member => peer.auth !== undefined

const noPeers: ReadonlySet<Member> = new Set()

/** The logged-in connections, by user, and the sorted list of who is online. */
class Members {
  readonly all = new Set<Member>()
  readonly byUser = new Map<number, Set<Member>>()
  // the sorted online list, rebuilt only after a user comes or goes (every CONNECTED carries it)
  private onlineSorted: Array<string> | undefined

  /** Adds an authenticated connection; true when it is the user's first. */
  join(peer: Member): boolean {
    this.all.add(peer)
    const own = this.byUser.get(peer.auth.userId)
    if (own !== undefined) {
      own.add(peer)
      return false
    }
    this.byUser.set(peer.auth.userId, new Set([peer]))
    this.onlineSorted = undefined
    return true
  }

  /** Removes a connection; true when it was the user's last. */
  leave(peer: Member): boolean {
    if (!this.all.delete(peer)) return false
    const own = this.byUser.get(peer.auth.userId)
    if (own === undefined) return false
    own.delete(peer)
    if (own.size > 0) return false
    this.byUser.delete(peer.auth.userId)
    this.onlineSorted = undefined
    return true
  }

  /** Usernames with at least one authenticated connection, sorted. */
  online(): ReadonlyArray<string> {
    return (this.onlineSorted ??= this.sortedNames())
  }

  private sortedNames(): Array<string> {
    const names: Array<string> = []
    for (const own of this.byUser.values()) {
      const first = own.values().next().value
      if (first !== undefined) names.push(first.auth.username)
    }
    return names.sort((a, b) => a.localeCompare(b))
  }

  /** A user's connections on this server. */
  of(userId: number): ReadonlySet<Member> {
    return this.byUser.get(userId) ?? noPeers
  }
}

/**
 * Per room (not `general`): the opted-in connections of its members, kept
 * up to date on login, logout, JOIN, PART, KICK, BAN and ROOM_DELETE, so a
 * room message costs one encode and a push per member connection.
 */
class RoomSets {
  readonly byRoom = new Map<number, Set<Member>>()
  private readonly ofPeer = new Map<Member, Set<number>>()

  add(roomId: number, peer: Member): void {
    let set = this.byRoom.get(roomId)
    if (set === undefined) this.byRoom.set(roomId, set = new Set())
    set.add(peer)
    let rooms = this.ofPeer.get(peer)
    if (rooms === undefined) this.ofPeer.set(peer, rooms = new Set())
    rooms.add(roomId)
  }

  remove(roomId: number, peer: Member): void {
    const set = this.byRoom.get(roomId)
    if (set !== undefined) {
      set.delete(peer)
      if (set.size === 0) this.byRoom.delete(roomId)
    }
    this.ofPeer.get(peer)?.delete(roomId)
  }

  /** Forgets a connection that is going away. */
  removePeer(peer: Member): void {
    const rooms = this.ofPeer.get(peer)
    if (rooms === undefined) return
    this.ofPeer.delete(peer)
    for (const roomId of rooms) {
      const set = this.byRoom.get(roomId)
      set?.delete(peer)
      if (set?.size === 0) this.byRoom.delete(roomId)
    }
  }

  /** Forgets a room; returns who was in it. */
  drop(roomId: number): ReadonlySet<Member> {
    const set = this.byRoom.get(roomId)
    if (set === undefined) return noPeers
    this.byRoom.delete(roomId)
    for (const peer of set) this.ofPeer.get(peer)?.delete(roomId)
    return set
  }
}

function* optedIn(peers: ReadonlySet<Member>): Generator<Member> {
  for (const peer of peers) if (peer.auth.rooms) yield peer
}

/** Delivers a MESSAGE to each of `recipients` but the sender; returns how many got it. */
const deliverAll = (recipients: ReadonlySet<Member>, frame: Uint8Array, messageId: number, sender?: Member) => {
  let delivered = 0
  for (const peer of recipients) {
    if (peer !== sender) {
      peer.deliver(frame, messageId)
      delivered++
    }
  }
  return delivered
}

export class Hub extends Effect.Service<Hub>()("@parley/server/Hub", {
  effect: Effect.gen(function*() {
    const metrics = yield* Metrics
    const members = new Members()
    const peers = members.all
    const rooms = new RoomSets()
    metrics.source("connectionsAuthenticated", () => peers.size)
    metrics.source("usersOnline", () => members.byUser.size)

    /** Sends an encoded frame to every authenticated connection but one. */
    const broadcast = (frame: Uint8Array, except?: Peer): void => {
      for (const peer of peers) if (peer !== except) peer.deliver(frame)
    }

    /** Sends an encoded frame to each connection of a user. */
    const toUser = (userId: number, frame: Uint8Array, except?: Peer): void => {
      for (const peer of members.of(userId)) if (peer !== except) peer.deliver(frame)
    }

    /** The opted-in connections of a room's members (for `general`, every opted-in connection). */
    const roomPeers = (roomId: number): Iterable<Member> =>
      roomId === GENERAL_ID ? optedIn(peers) : rooms.byRoom.get(roomId) ?? noPeers

    /** Sends an encoded room event to the room's opted-in member connections but one. */
    const toRoom = (roomId: number, frame: Uint8Array, except?: Peer): void => {
      for (const peer of roomPeers(roomId)) if (peer !== except) peer.deliver(frame)
    }

    /** Sends an encoded room event to the opted-in connections of some of its members (moderators) but one. */
    const toRoomUsers = (roomId: number, userIds: ReadonlySet<number>, frame: Uint8Array, except?: Peer): void => {
      for (const peer of roomPeers(roomId)) if (peer !== except && userIds.has(peer.auth.userId)) peer.deliver(frame)
    }

    /** Sends an encoded frame to a user's opted-in connections. */
    const toUserInRooms = (userId: number, frame: Uint8Array): void => {
      for (const peer of members.of(userId)) if (peer.auth.rooms) peer.deliver(frame)
    }

    /**
     * Fans out a committed message: public to everyone but the sending
     * connection, a DM to the recipient's connections and the sender's
     * other ones, a room message to its members' opted-in connections. The
     * sending connection gets the ACK instead.
     */
    const publish = (
      message: Message,
      senderId: number,
      receiverId: number | null,
      roomId: number | null,
      sender?: Member
    ): void => {
      const frame = encodeFrame(message)
      if (roomId !== null) {
        metrics.delivered(deliverAll(rooms.byRoom.get(roomId) ?? noPeers, frame, message.message_id, sender))
        return
      }
      if (receiverId === null) {
        // counted once per broadcast, not per recipient
        metrics.delivered(sender !== undefined && peers.has(sender) ? peers.size - 1 : peers.size)
        for (const peer of peers) if (peer !== sender) peer.deliver(frame, message.message_id)
        return
      }
      let delivered = deliverAll(members.of(receiverId), frame, message.message_id, sender)
      if (receiverId !== senderId) delivered += deliverAll(members.of(senderId), frame, message.message_id, sender)
      metrics.delivered(delivered)
    }

    /** A user's opted-in connections enter (or leave) a room's set. */
    const enterRoom = (roomId: number, userId: number): void => {
      for (const peer of members.of(userId)) if (peer.auth.rooms) rooms.add(roomId, peer)
    }
    const exitRoom = (roomId: number, userId: number): void => {
      for (const peer of members.of(userId)) rooms.remove(roomId, peer)
    }

    return {
      join: (peer: Member) => members.join(peer),
      leave: (peer: Member) => {
        rooms.removePeer(peer)
        return members.leave(peer)
      },
      /** An opted-in connection that just logged in enters its user's rooms. */
      enterRooms: (peer: Member, roomIds: ReadonlyArray<number>) => {
        if (peer.closing !== undefined || !members.all.has(peer)) return
        for (const roomId of roomIds) rooms.add(roomId, peer)
      },
      /** Takes one connection out of rooms (its user left them while it was logging in). */
      leaveRooms: (peer: Member, roomIds: Iterable<number>) => {
        for (const roomId of roomIds) rooms.remove(roomId, peer)
      },
      enterRoom,
      exitRoom,
      dropRoom: (roomId: number) => rooms.drop(roomId),
      toRoom,
      toRoomUsers,
      toUserInRooms,
      isOnline: (userId: number) => members.of(userId).size > 0,
      online: () => members.online(),
      broadcast,
      toUser,
      publish,
      peersOf: (userId: number) => members.of(userId)
    } as const
  })
}) {}
