/**
 * The seam between one node's handlers and the rest of a cluster: every
 * effect a command has on connections (a RECEIPT to a user, a room event, a
 * member leaving a room's set, a revocation, a lock, a general mute, a
 * presence change) is applied here and, in a cluster, also sent to the
 * other nodes as a notice, where the same operation is applied to their own
 * connections. Committed messages travel apart, through the ordered feed
 * (`Cluster.ts`, `Feed.ts`).
 *
 * A node without `--bus` has no link: `send` is a no-op and nothing else
 * changes. The operations are plain JSON, so a notice is what the bus
 * carries without any further encoding.
 */
import { Effect } from "effect"

/** An operation on connections that every node applies to its own. Frames are encoded JSON text. */
export type Op =
  | { readonly k: "toUser"; readonly user: number; readonly frame: string }
  | { readonly k: "toRoom"; readonly room: number; readonly frame: string }
  | { readonly k: "toRoomUsers"; readonly room: number; readonly users: ReadonlyArray<number>; readonly frame: string }
  | { readonly k: "toUserInRooms"; readonly user: number; readonly frame: string }
  | { readonly k: "enterRoom"; readonly room: number; readonly user: number }
  | { readonly k: "exitRoom"; readonly room: number; readonly user: number }
  | { readonly k: "dropRoom"; readonly room: number; readonly frame: string | null }
  | {
    readonly k: "revoke"
    readonly user: number
    readonly hashes: ReadonlyArray<string>
    readonly sessions: ReadonlyArray<number>
  }
  | { readonly k: "lock"; readonly user: number; readonly locked: boolean }
  | { readonly k: "generalMute"; readonly user: number; readonly muted: boolean }
  | { readonly k: "presence"; readonly user: number; readonly name: string; readonly online: boolean }

export type OpKind = Op["k"]

const isInt = (x: unknown) => Number.isSafeInteger(x)
/** What each field of an op must be: checked before another node's op is applied. */
const fieldChecks: Record<string, (x: unknown) => boolean> = {
  k: (x) => typeof x === "string",
  user: isInt,
  room: isInt,
  frame: (x) => x === null || typeof x === "string",
  users: (x) => Array.isArray(x) && x.every(isInt),
  sessions: (x) => Array.isArray(x) && x.every(isInt),
  hashes: (x) => Array.isArray(x) && x.every((h) => typeof h === "string"),
  name: (x) => typeof x === "string",
  locked: (x) => typeof x === "boolean",
  muted: (x) => typeof x === "boolean",
  online: (x) => typeof x === "boolean"
}

/** True when every field of `op` is one an op may have, of its type. */
export const wellFormed = (op: unknown): op is Op =>
  typeof op === "object" && op !== null &&
  Object.entries(op).every(([key, value]) => fieldChecks[key]?.(value) === true)
type Handler<K extends OpKind> = (op: Extract<Op, { k: K }>, from: string) => void

const decoder = new TextDecoder()
const encoder = new TextEncoder()

/** An encoded frame as an op carries it, and back. */
export const frameText = (frame: Uint8Array): string => decoder.decode(frame)
export const frameBytes = (text: string): Uint8Array => encoder.encode(text)

export class Relay extends Effect.Service<Relay>()("@parley/server/Relay", {
  // one per node (`sync`, not `succeed`): nodes built in one process must not share it
  sync: () => {
    const handlers = new Map<OpKind, Array<(op: Op, from: string) => void>>()
    let link: ((op: Op) => void) | undefined
    let settledLink: ((op: Op) => Effect.Effect<void>) | undefined
    return {
      /** Registers something this node does when another node sends an op of this kind. */
      on: <K extends OpKind>(kind: K, handler: Handler<K>): void => {
        const list = handlers.get(kind) ?? []
        list.push(handler as (op: Op, from: string) => void)
        handlers.set(kind, list)
      },
      /** Sends an op to the other nodes (a no-op for a node on its own). */
      send: (op: Op): void => link?.(op),
      /**
       * True when there are other nodes to tell. A function, not a getter: the
       * service's fields are copied once when it is built.
       */
      linked: (): boolean => link !== undefined,
      /**
       * Sends an op and waits (briefly, never for an outage) until the bus has
       * passed it to every node: for a rule that a command right after the
       * reply must already see on every node (a mute in general, checked from
       * memory on the fast path).
       */
      sendSettled: (op: Op): Effect.Effect<void> => settledLink?.(op) ?? Effect.void,
      /** Connects `send` to the bus (Cluster.ts). */
      attach: (send: (op: Op) => void, sendSettled: (op: Op) => Effect.Effect<void>): void => {
        link = send
        settledLink = sendSettled
      },
      /** Applies an op another node sent; false (nothing done) for one this node cannot read. */
      receive: (op: unknown, from: string): boolean => {
        if (!wellFormed(op)) return false
        for (const handler of handlers.get(op.k) ?? []) handler(op, from)
        return true
      }
    }
  }
}) {}
