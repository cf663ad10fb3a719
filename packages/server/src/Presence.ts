/**
 * Presence: PRESENCE events when a user's first connection authenticates
 * and when their last one closes, to every other authenticated connection.
 * In a cluster "first" and "last" are across every node: each node tells the
 * others when it starts or stops holding a user (`presence` ops), keeps the
 * users they hold in `hub.remote`, and announces to its own connections a
 * user who came online or went offline on the service as a whole.
 */
import { encodeFrame } from "@parley/protocol"
import { Effect } from "effect"
import { Hub, type Member } from "./Hub.ts"
import { Relay } from "./Relay.ts"

const presenceFrame = (user: string, online: boolean) =>
  encodeFrame({ type: "PRESENCE", user, status: online ? "online" : "offline" })

export class Presence extends Effect.Service<Presence>()("@parley/server/Presence", {
  effect: Effect.gen(function*() {
    const hub = yield* Hub
    const relay = yield* Relay
    const localOnline = (userId: number) => hub.peersOf(userId).size > 0

    /** Registers an authenticated connection, announcing the user if they just came online. */
    const arrive = (peer: Member): void => {
      if (!hub.join(peer)) return
      const { userId, username } = peer.auth
      relay.send({ k: "presence", user: userId, name: username, online: true })
      if (!hub.remote.has(userId)) hub.broadcast(presenceFrame(username, true), peer)
    }

    /** Unregisters a connection, announcing the user if they are now offline. */
    const depart = (peer: Member): void => {
      if (!hub.leave(peer)) return
      const { userId, username } = peer.auth
      relay.send({ k: "presence", user: userId, name: username, online: false })
      if (!hub.remote.has(userId)) hub.broadcast(presenceFrame(username, false), peer)
    }

    /** Another node started holding a user (true) or stopped (false). */
    const remote = (node: string, userId: number, name: string, online: boolean): void => {
      const changed = online ? hub.remote.add(node, userId, name) : hub.remote.remove(node, userId)
      if (!changed) return
      hub.remoteChanged()
      if (!localOnline(userId)) hub.broadcast(presenceFrame(name, online))
    }
    relay.on("presence", (op, from) => remote(from, op.user, op.name, op.online))

    /**
     * What other nodes hold, read from the database (after the bus was out, or
     * a node died): the differences are applied as if their notices had come.
     */
    const resync = (held: ReadonlyArray<{ node: string; userId: number; name: string }>): void => {
      const now = new Set(held.map((h) => `${h.node}\u0000${h.userId}`))
      for (const node of hub.remote.nodes()) {
        for (const userId of hub.remote.usersOf(node)) {
          if (!now.has(`${node}\u0000${userId}`)) remote(node, userId, hub.remote.byUser.get(userId)!.name, false)
        }
      }
      for (const h of held) remote(h.node, h.userId, h.name, true)
    }

    /** A node is gone (killed, partitioned): its users are counted out. */
    const nodeGone = (node: string): void => {
      for (const userId of hub.remote.usersOf(node)) remote(node, userId, hub.remote.byUser.get(userId)!.name, false)
    }

    return { arrive, depart, resync, nodeGone } as const
  }),
  dependencies: [Hub.Default, Relay.Default]
}) {}
