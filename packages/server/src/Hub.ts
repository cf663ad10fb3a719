/**
 * The hub: who is connected as whom, and the fan-out of committed messages
 * to their connections. Delivery is a synchronous push into each
 * recipient's bounded outbox, so one slow reader never slows a publisher,
 * and every frame is encoded once for all of its recipients.
 *
 * In a cluster (`--bus`) the hub is one node's part of the service: what a
 * handler does to connections is also sent to the other nodes through the
 * `Relay`, committed messages go through the cluster's ordered feed (see
 * `setFeed`), and who is online counts the users the other nodes hold.
 */
import { encodeFrame, type Message } from "@parley/protocol"
import { Effect } from "effect"
import { Metrics } from "./Metrics.ts"
import { frameBytes, frameText, type Op, Relay } from "./Relay.ts"
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

  /** The users other nodes of the cluster hold (none for a node on its own). */
  readonly remote = new RemoteMembers()

  /** Forgets the sorted list (a user came or went on another node). */
  changed(): void {
    this.onlineSorted = undefined
  }

  /** Usernames with at least one authenticated connection (on any node), sorted. */
  online(): ReadonlyArray<string> {
    return (this.onlineSorted ??= this.sortedNames())
  }

  private sortedNames(): Array<string> {
    const names: Array<string> = []
    for (const own of this.byUser.values()) {
      const first = own.values().next().value
      if (first !== undefined) names.push(first.auth.username)
    }
    for (const [userId, known] of this.remote.byUser) if (!this.byUser.has(userId)) names.push(known.name)
    return names.sort((a, b) => a.localeCompare(b))
  }

  /** A user's connections on this server. */
  of(userId: number): ReadonlySet<Member> {
    return this.byUser.get(userId) ?? noPeers
  }
}

/** The users other nodes of a cluster hold, by user: their name and the nodes holding them. */
export class RemoteMembers {
  readonly byUser = new Map<number, { readonly name: string; readonly nodes: Set<string> }>()

  /** Node `node` holds user `userId` now; true when no other node did. */
  add(node: string, userId: number, name: string): boolean {
    const known = this.byUser.get(userId)
    if (known !== undefined) {
      const first = known.nodes.size === 0
      known.nodes.add(node)
      return first
    }
    this.byUser.set(userId, { name, nodes: new Set([node]) })
    return true
  }

  /** Node `node` no longer holds user `userId`; true when no other node does. */
  remove(node: string, userId: number): boolean {
    const known = this.byUser.get(userId)
    if (known === undefined || !known.nodes.delete(node)) return false
    if (known.nodes.size > 0) return false
    this.byUser.delete(userId)
    return true
  }

  /** The users a node held. */
  usersOf(node: string): Array<number> {
    const users: Array<number> = []
    for (const [userId, known] of this.byUser) if (known.nodes.has(node)) users.push(userId)
    return users
  }

  /** Every node that holds someone. */
  nodes(): Set<string> {
    const all = new Set<string>()
    for (const known of this.byUser.values()) for (const node of known.nodes) all.add(node)
    return all
  }

  has(userId: number): boolean {
    return this.byUser.has(userId)
  }
}

/** A committed message as the hub fans it out. */
export interface Publication {
  readonly message: Message
  readonly senderId: number
  readonly receiverId: number | null
  readonly roomId: number | null
  /** The sending connection, on the node that stored it: it gets the ACK instead. */
  readonly sender?: Member | undefined
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

  /** The rooms a connection is in. */
  roomsOf(peer: Member): ReadonlySet<number> {
    return this.ofPeer.get(peer) ?? new Set()
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
    const relay = yield* Relay
    const members = new Members()
    const peers = members.all
    const rooms = new RoomSets()
    metrics.source("connectionsAuthenticated", () => peers.size)
    metrics.source("usersOnline", () => members.byUser.size)

    /** Sends an encoded frame to every authenticated connection of this node but one. */
    const broadcast = (frame: Uint8Array, except?: Peer): void => {
      for (const peer of peers) if (peer !== except) peer.deliver(frame)
    }

    /** The opted-in connections of a room's members (for `general`, every opted-in connection). */
    const roomPeers = (roomId: number): Iterable<Member> =>
      roomId === GENERAL_ID ? optedIn(peers) : rooms.byRoom.get(roomId) ?? noPeers

    // ---- what each node does to its own connections (here, and for an op from another node) ----
    const local = {
      toUser: (userId: number, frame: Uint8Array, except?: Peer): void => {
        for (const peer of members.of(userId)) if (peer !== except) peer.deliver(frame)
      },
      toRoom: (roomId: number, frame: Uint8Array, except?: Peer): void => {
        for (const peer of roomPeers(roomId)) if (peer !== except) peer.deliver(frame)
      },
      toRoomUsers: (roomId: number, userIds: ReadonlySet<number>, frame: Uint8Array, except?: Peer): void => {
        for (const peer of roomPeers(roomId)) if (peer !== except && userIds.has(peer.auth.userId)) peer.deliver(frame)
      },
      toUserInRooms: (userId: number, frame: Uint8Array): void => {
        for (const peer of members.of(userId)) if (peer.auth.rooms) peer.deliver(frame)
      },
      enterRoom: (roomId: number, userId: number): void => {
        for (const peer of members.of(userId)) if (peer.auth.rooms) rooms.add(roomId, peer)
      },
      exitRoom: (roomId: number, userId: number): void => {
        for (const peer of members.of(userId)) rooms.remove(roomId, peer)
      },
      dropRoom: (roomId: number, frame: Uint8Array | null, except?: Peer): void => {
        for (const peer of rooms.drop(roomId)) if (peer !== except && frame !== null) peer.deliver(frame)
      },
      /** Ends the user's sessions that logged in with one of `hashes` or are one of `sessionIds`. */
      revoke: (userId: number, hashes: ReadonlySet<string>, sessionIds: ReadonlySet<number>): void => {
        for (const peer of [...members.of(userId)]) {
          if (hashes.has(peer.auth.tokenHash) || sessionIds.has(peer.auth.sessionId)) peer.revoke()
        }
      },
      lock: (userId: number): void => {
        for (const peer of [...members.of(userId)]) peer.revoke("locked")
      }
    }
    relay.on("toUser", (op) => local.toUser(op.user, frameBytes(op.frame)))
    relay.on("toRoom", (op) => local.toRoom(op.room, frameBytes(op.frame)))
    relay.on("toRoomUsers", (op) => local.toRoomUsers(op.room, new Set(op.users), frameBytes(op.frame)))
    relay.on("toUserInRooms", (op) => local.toUserInRooms(op.user, frameBytes(op.frame)))
    relay.on("enterRoom", (op) => local.enterRoom(op.room, op.user))
    relay.on("exitRoom", (op) => local.exitRoom(op.room, op.user))
    relay.on("dropRoom", (op) => local.dropRoom(op.room, op.frame === null ? null : frameBytes(op.frame)))
    relay.on("revoke", (op) => local.revoke(op.user, new Set(op.hashes), new Set(op.sessions)))
    relay.on("lock", (op) => {
      if (op.locked) local.lock(op.user)
    })

    /**
     * Fans out a committed message on this node: public to everyone but the
     * sending connection, a DM to the recipient's connections and the
     * sender's other ones, a room message to its members' opted-in
     * connections. The sending connection gets the ACK instead.
     */
    const deliverMessage = ({ message, receiverId, roomId, sender, senderId }: Publication): void => {
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

    /** Tells the other nodes of a cluster; the op is only built when there are any. */
    const tell = (op: () => Op): void => {
      if (relay.linked()) relay.send(op())
    }

    // in a cluster, the feed that puts every node's messages in order (Cluster.ts)
    let feed: ((publication: Publication) => void) | undefined

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
      /** A user's opted-in connections, on every node, enter a room's set. */
      enterRoom: (roomId: number, userId: number) => {
        local.enterRoom(roomId, userId)
        tell(() => ({ k: "enterRoom", room: roomId, user: userId }))
      },
      /** A user's connections, on every node, leave a room's set. */
      exitRoom: (roomId: number, userId: number) => {
        local.exitRoom(roomId, userId)
        tell(() => ({ k: "exitRoom", room: roomId, user: userId }))
      },
      /** Forgets a room on every node, its members' connections but one getting `frame` last. */
      dropRoom: (roomId: number, frame: Uint8Array | null, except?: Peer) => {
        local.dropRoom(roomId, frame, except)
        tell(() => ({ k: "dropRoom", room: roomId, frame: frame === null ? null : frameText(frame) }))
      },
      /** Sends an encoded room event to the room's opted-in member connections (on every node) but one. */
      toRoom: (roomId: number, frame: Uint8Array, except?: Peer) => {
        local.toRoom(roomId, frame, except)
        tell(() => ({ k: "toRoom", room: roomId, frame: frameText(frame) }))
      },
      /** Sends an encoded room event to the opted-in connections of some of its members (moderators) but one. */
      toRoomUsers: (roomId: number, userIds: ReadonlySet<number>, frame: Uint8Array, except?: Peer) => {
        local.toRoomUsers(roomId, userIds, frame, except)
        tell(() => ({ k: "toRoomUsers", room: roomId, users: [...userIds], frame: frameText(frame) }))
      },
      /** Sends an encoded frame to a user's opted-in connections on every node. */
      toUserInRooms: (userId: number, frame: Uint8Array) => {
        local.toUserInRooms(userId, frame)
        tell(() => ({ k: "toUserInRooms", user: userId, frame: frameText(frame) }))
      },
      /** Sends an encoded frame to each connection of a user, on every node. */
      toUser: (userId: number, frame: Uint8Array, except?: Peer) => {
        local.toUser(userId, frame, except)
        tell(() => ({ k: "toUser", user: userId, frame: frameText(frame) }))
      },
      /** Ends, on every node, the user's sessions that used one of `hashes` or are one of `sessionIds`. */
      revoke: (userId: number, hashes: ReadonlySet<string>, sessionIds: ReadonlySet<number>) => {
        local.revoke(userId, hashes, sessionIds)
        tell(() => ({ k: "revoke", user: userId, hashes: [...hashes], sessions: [...sessionIds] }))
      },
      /** Ends the user's sessions on every node with `BYE locked`. */
      lock: (userId: number) => {
        local.lock(userId)
        tell(() => ({ k: "lock", user: userId, locked: true }))
      },
      /** Whether a connection is in a room's set (a member's opted-in connection; not `general`). */
      inRoom: (roomId: number, peer: Member): boolean => rooms.byRoom.get(roomId)?.has(peer) === true,
      isOnline: (userId: number) => members.of(userId).size > 0 || members.remote.has(userId),
      /** Who is online, on every node. */
      online: () => members.online(),
      /** The users other nodes hold (kept by Presence from the cluster's notices). */
      remote: members.remote,
      /** Call after changing `remote`. */
      remoteChanged: () => members.changed(),
      /** Sends an encoded frame to every authenticated connection of this node but one. */
      broadcast,
      /** Fans out a committed message: at once, or in a cluster through the ordered feed. */
      publish: (publication: Publication): void => {
        if (feed === undefined) deliverMessage(publication)
        else feed(publication)
      },
      /** This node's part of a message's fan-out (the feed calls it in message_id order). */
      deliverMessage,
      /** Routes `publish` through the cluster's feed. */
      setFeed: (f: (publication: Publication) => void) => {
        feed = f
      },
      /** A user's connections on this node. */
      peersOf: (userId: number) => members.of(userId),
      /** The users with a connection on this node. */
      localUsers: (): Array<number> => [...members.byUser.keys()],
      /**
       * Puts a user's opted-in connections on this node in exactly these rooms
       * (read from the database after the bus was out: a JOIN, PART, kick, ban
       * or deletion on another node meanwhile was not heard).
       */
      setRooms: (userId: number, roomIds: ReadonlyArray<number>) => {
        const want = new Set(roomIds)
        for (const peer of members.of(userId)) {
          if (!peer.auth.rooms || peer.closing !== undefined) continue
          for (const roomId of [...rooms.roomsOf(peer)]) if (!want.has(roomId)) rooms.remove(roomId, peer)
          for (const roomId of want) rooms.add(roomId, peer)
        }
      },
      /** Ends this node's sessions of a user with `BYE revoked` where their token is no longer valid. */
      revokeLocal: (userId: number, hashes: ReadonlySet<string>) => local.revoke(userId, hashes, new Set()),
      /** Ends this node's sessions of a locked user. */
      lockLocal: (userId: number) => local.lock(userId)
    } as const
  }),
  dependencies: [Relay.Default]
}) {}
