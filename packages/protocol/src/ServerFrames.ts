/**
 * Server-to-client frames, discriminated on `type`. They are plain structs so
 * the server can build them as object literals and encode them once.
 */
import { Schema } from "effect"
import { ClientMsgId, MessageId, RequestId, Token } from "./Fields.ts"

const id = Schema.optional(RequestId)
// names are the registered spelling, which the server controls; a client must
// not reject a whole frame (a HISTORY page) over a name registered under older rules
export const Name = Schema.String
const PositiveInt = Schema.Int.pipe(Schema.positive())
/** ISO 8601 UTC with milliseconds, as `Date.prototype.toISOString` writes a real instant. */
export const Timestamp = Schema.String.pipe(
  Schema.pattern(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
  Schema.filter((s) => {
    const t = Date.parse(s)
    return !Number.isNaN(t) && new Date(t).toISOString() === s
  }, {
    identifier: "Timestamp",
    message: () => "must be an ISO 8601 UTC timestamp with milliseconds",
    arbitrary: () => (fc) =>
      fc.date({
        min: new Date("0000-01-01T00:00:00.000Z"),
        max: new Date("9999-12-31T23:59:59.999Z"),
        noInvalidDate: true
      }).map((d) => d.toISOString())
  })
)

export const ErrorCode = Schema.Literal(
  "INVALID_JSON",
  "INVALID_COMMAND",
  "UNKNOWN_COMMAND",
  "FRAME_TOO_LARGE",
  "NOT_AUTHENTICATED",
  "ALREADY_AUTHENTICATED",
  "AUTH_FAILED",
  "USERNAME_TAKEN",
  "UNKNOWN_USER",
  "NOT_FOUND",
  "RATE_LIMITED",
  "UNAVAILABLE",
  "INTERNAL"
)
export type ErrorCode = typeof ErrorCode.Type

export const ByeReason = Schema.Literal(
  "idle",
  "slow_consumer",
  "shutdown",
  "too_many_connections",
  "auth_timeout",
  "revoked"
)
export type ByeReason = typeof ByeReason.Type

export const Hello = Schema.Struct({
  type: Schema.Literal("HELLO"),
  protocol: Schema.Literal(1),
  server: Schema.String,
  limits: Schema.Struct({ max_frame_bytes: PositiveInt, max_text_chars: PositiveInt })
})
export const Registered = Schema.Struct({ type: Schema.Literal("REGISTERED"), username: Name, id })
export const Connected = Schema.Struct({
  type: Schema.Literal("CONNECTED"),
  user: Name,
  session_id: Schema.NonNegativeInt,
  token: Token,
  online: Schema.Array(Name),
  unread: Schema.NonNegativeInt,
  id
})
export const Ack = Schema.Struct({
  type: Schema.Literal("ACK"),
  message_id: MessageId,
  timestamp: Timestamp,
  client_msg_id: Schema.optional(ClientMsgId),
  id
})
export const Message = Schema.Struct({
  type: Schema.Literal("MESSAGE"),
  message_id: MessageId,
  from: Name,
  to: Schema.NullOr(Name),
  text: Schema.String,
  timestamp: Timestamp
})
export const HistoryPage = Schema.Struct({
  type: Schema.Literal("HISTORY"),
  messages: Schema.Array(Message),
  has_more: Schema.Boolean,
  id
})
export const Ok = Schema.Struct({ type: Schema.Literal("OK"), id })
export const UsersList = Schema.Struct({ type: Schema.Literal("USERS"), online: Schema.Array(Name), id })
export const SessionInfo = Schema.Struct({
  session_id: Schema.NonNegativeInt,
  ip_address: Schema.String,
  connect_time: Timestamp,
  current: Schema.Boolean
})
export const SessionsList = Schema.Struct({ type: Schema.Literal("SESSIONS"), sessions: Schema.Array(SessionInfo), id })
export const Pong = Schema.Struct({ type: Schema.Literal("PONG"), id })
export const Bye = Schema.Struct({ type: Schema.Literal("BYE"), reason: Schema.optional(ByeReason), id })
export const ErrorFrame = Schema.Struct({
  type: Schema.Literal("ERROR"),
  code: ErrorCode,
  message: Schema.String,
  retry_after_ms: Schema.optional(Schema.NonNegativeInt),
  id
})
export const Presence = Schema.Struct({
  type: Schema.Literal("PRESENCE"),
  user: Name,
  status: Schema.Literal("online", "offline")
})
export const Receipt = Schema.Struct({ type: Schema.Literal("RECEIPT"), message_id: MessageId, by: Name })
export const Truncated = Schema.Struct({ type: Schema.Literal("TRUNCATED"), before: MessageId })

/** Any server frame. */
export const ServerFrame = Schema.Union(
  Hello,
  Registered,
  Connected,
  Ack,
  Message,
  HistoryPage,
  Ok,
  UsersList,
  SessionsList,
  Pong,
  Bye,
  ErrorFrame,
  Presence,
  Receipt,
  Truncated
)
export type ServerFrame = typeof ServerFrame.Type
export type ServerFrameType = ServerFrame["type"]
export type Hello = typeof Hello.Type
export type Registered = typeof Registered.Type
export type Connected = typeof Connected.Type
export type Ack = typeof Ack.Type
export type Message = typeof Message.Type
export type HistoryPage = typeof HistoryPage.Type
export type Ok = typeof Ok.Type
export type UsersList = typeof UsersList.Type
export type SessionInfo = typeof SessionInfo.Type
export type SessionsList = typeof SessionsList.Type
export type Pong = typeof Pong.Type
export type Bye = typeof Bye.Type
export type ErrorFrame = typeof ErrorFrame.Type
export type Presence = typeof Presence.Type
export type Receipt = typeof Receipt.Type
export type Truncated = typeof Truncated.Type
