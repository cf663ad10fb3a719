/**
 * Reading the server's replies to requests: the ERROR case, the reply of a
 * type nobody asked for, and HISTORY (used by the client and its inbox).
 */
import { type ErrorFrame, History, type HistoryPage, type ServerFrame } from "@parley/protocol"
import { Effect } from "effect"
import { ConnectionLost, RequestRejected } from "./ClientError.ts"
import type * as Connection from "./Connection.ts"

/** A HISTORY query: the public timeline, or the DMs `with` one user. */
export interface HistoryQuery {
  readonly with?: string | undefined
  readonly before?: number | undefined
  readonly after?: number | undefined
  readonly limit?: number | undefined
}

/** The frame as an ERROR, if it is one. */
export const errorOf = (frame: ServerFrame): ErrorFrame | undefined => frame.type === "ERROR" ? frame : undefined

/** A reply of the wrong type: the peer is not the server we think it is. */
export const unexpected = (what: string, frame: ServerFrame) =>
  new ConnectionLost({ reason: `unexpected ${frame.type} in reply to ${what}: is this a Parley v1 server?` })

/** The reply as `A` when `accept` recognises it, else its ERROR as `RequestRejected`. */
export const expect = <A>(
  what: string,
  reply: ServerFrame,
  accept: (frame: ServerFrame) => A | undefined
): Effect.Effect<A, ConnectionLost | RequestRejected> => {
  const value = accept(reply)
  if (value !== undefined) return Effect.succeed(value)
  const error = errorOf(reply)
  return error !== undefined
    ? Effect.fail(new RequestRejected({ code: error.code, reason: error.message }))
    : Effect.fail(unexpected(what, reply))
}

/** One HISTORY page over `conn`. */
export const history = (
  conn: Connection.Connection,
  query: HistoryQuery
): Effect.Effect<HistoryPage, ConnectionLost | RequestRejected> =>
  Effect.flatMap(
    conn.request(
      new History({
        command: "HISTORY",
        ...(query.with !== undefined ? { with: query.with } : {}),
        ...(query.before !== undefined ? { before: query.before } : {}),
        ...(query.after !== undefined ? { after: query.after } : {}),
        ...(query.limit !== undefined ? { limit: query.limit } : {})
      }, true)
    ),
    (reply) => expect("HISTORY", reply, (f) => (f.type === "HISTORY" ? f : undefined))
  )
