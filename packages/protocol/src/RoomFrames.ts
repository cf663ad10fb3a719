/**
 * Server-to-client frames of protocol v1.2: rooms, roles and moderation
 * (docs/protocol.md, "Rooms, roles and moderation"). Plain structs, as in
 * `ServerFrames.ts`, so the server builds them as literals and encodes once.
 */
import { Schema } from "effect"
import { AuditId, MessageId, Name, RequestId, Role, Timestamp, Visibility } from "./Fields.ts"

const id = Schema.optional(RequestId)

/** A room as ROOM, ROOMS and CONNECTED describe it; `role` null when you are not a member. */
export const RoomInfo = Schema.Struct({
  name: Name,
  visibility: Visibility,
  topic: Schema.String,
  members: Schema.NonNegativeInt,
  role: Schema.NullOr(Role),
  unread: Schema.NonNegativeInt
})
export type RoomInfo = typeof RoomInfo.Type

export const RoomReply = Schema.Struct({ type: Schema.Literal("ROOM"), room: RoomInfo, id })
export const RoomsList = Schema.Struct({ type: Schema.Literal("ROOMS"), rooms: Schema.Array(RoomInfo), id })

export const MemberInfo = Schema.Struct({ user: Name, role: Role, online: Schema.Boolean })
export type MemberInfo = typeof MemberInfo.Type
export const MembersList = Schema.Struct({
  type: Schema.Literal("MEMBERS"),
  room: Name,
  members: Schema.Array(MemberInfo),
  total: Schema.NonNegativeInt,
  id
})

export const AuditAction = Schema.Literal("kick", "ban", "unban", "mute", "unmute", "role", "topic", "delete", "invite")
export type AuditAction = typeof AuditAction.Type
export const AuditEntry = Schema.Struct({
  id: AuditId,
  actor: Name,
  action: AuditAction,
  target: Schema.String,
  reason: Schema.NullOr(Schema.String),
  expires_at: Schema.NullOr(Timestamp),
  timestamp: Timestamp
})
export type AuditEntry = typeof AuditEntry.Type
export const AuditPage = Schema.Struct({
  type: Schema.Literal("AUDIT"),
  room: Name,
  entries: Schema.Array(AuditEntry),
  has_more: Schema.Boolean,
  id
})

const nullableReason = Schema.NullOr(Schema.String)
const expiresAt = Schema.NullOr(Timestamp)

/** MEMBER: a change in a room's membership, each kind with its own fields. */
export const MemberEvent = Schema.Union(
  Schema.Struct({
    type: Schema.Literal("MEMBER"),
    room: Name,
    user: Name,
    event: Schema.Literal("joined"),
    role: Role
  }),
  Schema.Struct({ type: Schema.Literal("MEMBER"), room: Name, user: Name, event: Schema.Literal("left") }),
  Schema.Struct({
    type: Schema.Literal("MEMBER"),
    room: Name,
    user: Name,
    event: Schema.Literal("kicked"),
    by: Name,
    reason: nullableReason
  }),
  Schema.Struct({
    type: Schema.Literal("MEMBER"),
    room: Name,
    user: Name,
    event: Schema.Literal("banned", "muted"),
    by: Name,
    reason: nullableReason,
    expires_at: expiresAt
  }),
  Schema.Struct({
    type: Schema.Literal("MEMBER"),
    room: Name,
    user: Name,
    event: Schema.Literal("unbanned", "unmuted"),
    by: Name
  }),
  Schema.Struct({
    type: Schema.Literal("MEMBER"),
    room: Name,
    user: Name,
    event: Schema.Literal("role"),
    role: Role,
    by: Name
  })
)
export type MemberEvent = typeof MemberEvent.Type

export const TopicChanged = Schema.Struct({ type: Schema.Literal("TOPIC"), room: Name, topic: Schema.String, by: Name })
export const Edited = Schema.Struct({
  type: Schema.Literal("EDITED"),
  message_id: MessageId,
  room: Name,
  text: Schema.String,
  edited_at: Timestamp
})
export const Deleted = Schema.Struct({ type: Schema.Literal("DELETED"), message_id: MessageId, room: Name, by: Name })
export const RoomDeleted = Schema.Struct({ type: Schema.Literal("ROOM_DELETED"), room: Name, by: Name })
export const Invited = Schema.Struct({ type: Schema.Literal("INVITED"), room: Name, by: Name })

/** Any room frame (replies and events). */
export const RoomFrame = Schema.Union(
  RoomReply,
  RoomsList,
  MembersList,
  AuditPage,
  MemberEvent,
  TopicChanged,
  Edited,
  Deleted,
  RoomDeleted,
  Invited
)
export type RoomFrame = typeof RoomFrame.Type
export type RoomReply = typeof RoomReply.Type
export type RoomsList = typeof RoomsList.Type
export type MembersList = typeof MembersList.Type
export type AuditPage = typeof AuditPage.Type
export type TopicChanged = typeof TopicChanged.Type
export type Edited = typeof Edited.Type
export type Deleted = typeof Deleted.Type
export type RoomDeleted = typeof RoomDeleted.Type
export type Invited = typeof Invited.Type
