/**
 * Reading the server's replies to requests: the ERROR case, the reply of a
 * type nobody asked for, and HISTORY (used by the client and its inbox).
 */
import { History } from "@parley/protocol"
import { Effect, Schema } from "effect"
import { ConnectionLost, RequestRejected, RoomRejected } from "./ClientError.ts"
import type * as Connection from "./Connection.ts"
import {
  type AnyErrorFrame as ErrorFrame,
  encoded,
  type Incoming as ServerFrame,
  isRoomErrorCode,
  type Outgoing,
  type RoomHistoryPage as HistoryPage
} from "./Frames.ts"

/** A HISTORY query: the public timeline, a room's (v1.2), or the DMs `with` one user. */
export interface HistoryQuery {
  readonly with?: string | undefined
  /** A room's history (protocol v1.2); exclusive with `with`. */
  readonly room?: string | undefined
  readonly before?: number | undefined
  readonly after?: number | undefined
  readonly limit?: number | undefined
}

/** The frame as an ERROR, if it is one. */
export const errorOf = (frame: ServerFrame): ErrorFrame | undefined => frame.type === "ERROR" ? frame : undefined

/** A reply of the wrong type: the peer is not the server we think it is. */
export const unexpected = (what: string, frame: ServerFrame) =>
  new ConnectionLost({ reason: `unexpected ${frame.type} in reply to ${what}: is this a Parley v1 server?` })

/** An ERROR reply as the client's typed error: a room code (v1.2) with its details, else `RequestRejected`. */
export const rejection = (error: ErrorFrame): RequestRejected | RoomRejected =>
  isRoomErrorCode(error.code)
    ? new RoomRejected({
      code: error.code,
      reason: error.message,
      ...(error.action !== undefined ? { action: error.action } : {}),
      ...(error.expires_at !== undefined ? { expiresAt: error.expires_at } : {})
    })
    : new RequestRejected({
      code: error.code,
      reason: error.message,
      ...(error.retry_after_ms !== undefined ? { retryAfterMs: error.retry_after_ms } : {})
    })

/** The reply as `A` when `accept` recognises it, else its ERROR as `RequestRejected`. */
export const expect = <A>(
  what: string,
  reply: ServerFrame,
  accept: (frame: ServerFrame) => A | undefined
): Effect.Effect<A, ConnectionLost | RequestRejected | RoomRejected> => {
  const value = accept(reply)
  if (value !== undefined) return Effect.succeed(value)
  const error = errorOf(reply)
  return error !== undefined ? Effect.fail(rejection(error)) : Effect.fail(unexpected(what, reply))
}

/** HISTORY of a room is v1.2: the protocol's `History` schema does not have `room` yet. */
const historyCommand = (query: HistoryQuery): Outgoing => {
  const command = new History({
    command: "HISTORY",
    ...(query.with !== undefined ? { with: query.with } : {}),
    ...(query.before !== undefined ? { before: query.before } : {}),
    ...(query.after !== undefined ? { after: query.after } : {}),
    ...(query.limit !== undefined ? { limit: query.limit } : {})
  }, true)
  return query.room === undefined ? command : encoded({ ...Schema.encodeSync(History)(command), room: query.room })
}

/** One HISTORY page over `conn`. */
export const history = (
  conn: Connection.Connection,
  query: HistoryQuery
): Effect.Effect<HistoryPage, ConnectionLost | RequestRejected | RoomRejected> =>
  Effect.flatMap(
    conn.request(historyCommand(query)),
    (reply) => expect("HISTORY", reply, (f) => (f.type === "HISTORY" ? f : undefined))
  )
