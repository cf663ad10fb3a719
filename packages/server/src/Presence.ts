/**
 * Presence: PRESENCE events when a user's first connection authenticates
 * and when their last one closes, to every other authenticated connection.
 */
import { encodeFrame } from "@parley/protocol"
import { Effect } from "effect"
import { Hub, type Member } from "./Hub.ts"

export class Presence extends Effect.Service<Presence>()("@parley/server/Presence", {
  effect: Effect.gen(function*() {
    const hub = yield* Hub

    /** Registers an authenticated connection, announcing the user if they just came online. */
    const arrive = (peer: Member): void => {
      if (hub.join(peer)) {
        hub.broadcast(encodeFrame({ type: "PRESENCE", user: peer.auth.username, status: "online" }), peer)
      }
    }

    /** Unregisters a connection, announcing the user if they are now offline. */
    const depart = (peer: Member): void => {
      if (hub.leave(peer)) {
        hub.broadcast(encodeFrame({ type: "PRESENCE", user: peer.auth.username, status: "offline" }), peer)
      }
    }

    return { arrive, depart } as const
  }),
  dependencies: [Hub.Default]
}) {}
