/**
 * Server-to-client frames, discriminated on `type`. They are plain structs so
 * the server can build them as object literals and encode them once.
 */
import { Schema } from "effect"
import { ClientMsgId, MessageId, Name, RequestId, Timestamp, Token } from "./Fields.ts"
import {
  AuditPage,
  Deleted,
  Edited,
  Invited,
  MemberEvent,
  MembersList,
  RoomDeleted,
  RoomInfo,
  RoomReply,
  RoomsList,
  TopicChanged
} from "./RoomFrames.ts"

const id = Schema.optional(RequestId)
const PositiveInt = Schema.Int.pipe(Schema.positive())

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
  "INTERNAL",
  "NO_SUCH_ROOM",
  "NOT_MEMBER",
  "FORBIDDEN",
  "BANNED",
  "MUTED",
  "ROOM_NAME_TAKEN"
)
export type ErrorCode = typeof ErrorCode.Type

export const ByeReason = Schema.Literal(
  "idle",
  "slow_consumer",
  "shutdown",
  "too_many_connections",
  "auth_timeout",
  "revoked",
  "locked"
)
export type ByeReason = typeof ByeReason.Type

export const Hello = Schema.Struct({
  type: Schema.Literal("HELLO"),
  protocol: Schema.Literal(1),
  server: Schema.String,
  limits: Schema.Struct({ max_frame_bytes: PositiveInt, max_text_chars: PositiveInt }),
  /** `["rooms"]` from a server that speaks protocol v1.2. */
  features: Schema.optional(Schema.Array(Schema.String))
})
export const Registered = Schema.Struct({ type: Schema.Literal("REGISTERED"), username: Name, id })
export const Connected = Schema.Struct({
  type: Schema.Literal("CONNECTED"),
  user: Name,
  session_id: Schema.NonNegativeInt,
  token: Token,
  online: Schema.Array(Name),
  unread: Schema.NonNegativeInt,
  /** With `"rooms": true` (v1.2): the rooms you are a member of, `general` first. */
  rooms: Schema.optional(Schema.Array(RoomInfo)),
  /** With `"rooms": true` (v1.2): present, and true, for a server admin. */
  admin: Schema.optional(Schema.Literal(true)),
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
  /** v1.2: the room's name, or null for a DM (absent from a v1 server). */
  room: Schema.optional(Schema.NullOr(Name)),
  text: Schema.String,
  timestamp: Timestamp,
  /** v1.2: when the text was last edited. */
  edited_at: Schema.optional(Timestamp)
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
  /** FORBIDDEN: what was refused (v1.2). */
  action: Schema.optional(Schema.String),
  /** BANNED, MUTED: until when (null: until lifted) (v1.2). */
  expires_at: Schema.optional(Schema.NullOr(Timestamp)),
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
  Truncated,
  RoomReply,
  RoomsList,
  MembersList,
  MemberEvent,
  TopicChanged,
  RoomDeleted,
  Invited,
  AuditPage,
  Edited,
  Deleted
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
