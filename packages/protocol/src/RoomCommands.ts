/**
 * Client-to-server frames of protocol v1.2: rooms, roles and moderation
 * (docs/protocol.md, "Rooms, roles and moderation"). Same conventions as
 * `Commands.ts`: one `Schema.Class` per command, discriminated on `command`.
 *
 * `room` follows the room-name rule (a malformed one is `INVALID_COMMAND`);
 * `user` is any string, since an unknown or malformed one is `UNKNOWN_USER`
 * (as `to` and `with` in v1).
 */
import { Schema } from "effect"
import {
  AuditId,
  DurationS,
  Limit,
  MessageId,
  Reason,
  RequestId,
  Role,
  RoomName,
  Text,
  Topic,
  Visibility
} from "./Fields.ts"

const id = Schema.optional(RequestId)
const room = RoomName
const user = Schema.String

/** ROOM_CREATE: a new room, with you as its owner. */
export class RoomCreate extends Schema.Class<RoomCreate>("RoomCreate")({
  command: Schema.tag("ROOM_CREATE"),
  id,
  room,
  visibility: Visibility,
  topic: Schema.optional(Topic)
}) {}

/** JOIN: become a member of a public room, or of a private one you were invited to. */
export class Join extends Schema.Class<Join>("Join")({ command: Schema.tag("JOIN"), id, room }) {}

/** PART: leave a room. */
export class Part extends Schema.Class<Part>("Part")({ command: Schema.tag("PART"), id, room }) {}

/** ROOMS: the public rooms and the private rooms you are in. */
export class Rooms extends Schema.Class<Rooms>("Rooms")({ command: Schema.tag("ROOMS"), id }) {}

/** MEMBERS: a room's members with their roles and whether they are online. */
export class Members extends Schema.Class<Members>("Members")({ command: Schema.tag("MEMBERS"), id, room }) {}

/** TOPIC: set (or, with "", clear) a room's topic. */
export class SetTopic extends Schema.Class<SetTopic>("SetTopic")({
  command: Schema.tag("TOPIC"),
  id,
  room,
  topic: Topic
}) {}

/** INVITE: let `user` join a private room once (in a public room, a notice). */
export class Invite extends Schema.Class<Invite>("Invite")({ command: Schema.tag("INVITE"), id, room, user }) {}

/** ROLE: change a member's role. */
export class SetRole extends Schema.Class<SetRole>("SetRole")({
  command: Schema.tag("ROLE"),
  id,
  room,
  user,
  role: Role
}) {}

/** KICK: remove a member (who may come back to a public room). */
export class Kick extends Schema.Class<Kick>("Kick")({
  command: Schema.tag("KICK"),
  id,
  room,
  user,
  reason: Schema.optional(Reason)
}) {}

/** BAN: remove `user` and keep them out, for `duration_s` or until UNBAN. */
export class Ban extends Schema.Class<Ban>("Ban")({
  command: Schema.tag("BAN"),
  id,
  room,
  user,
  duration_s: Schema.optional(DurationS),
  reason: Schema.optional(Reason)
}) {}

/** UNBAN: lift a ban. */
export class Unban extends Schema.Class<Unban>("Unban")({ command: Schema.tag("UNBAN"), id, room, user }) {}

/** MUTE: a member may read but not send, for `duration_s` or until UNMUTE. */
export class Mute extends Schema.Class<Mute>("Mute")({
  command: Schema.tag("MUTE"),
  id,
  room,
  user,
  duration_s: Schema.optional(DurationS),
  reason: Schema.optional(Reason)
}) {}

/** UNMUTE: lift a mute. */
export class Unmute extends Schema.Class<Unmute>("Unmute")({ command: Schema.tag("UNMUTE"), id, room, user }) {}

/** ROOM_DELETE: delete a room (owners and server admins). */
export class RoomDelete extends Schema.Class<RoomDelete>("RoomDelete")({
  command: Schema.tag("ROOM_DELETE"),
  id,
  room
}) {}

/** EDIT: replace the text of your own room message, within the edit window. */
export class Edit extends Schema.Class<Edit>("Edit")({
  command: Schema.tag("EDIT"),
  id,
  message_id: MessageId,
  text: Text
}) {}

/** DELETE: remove your own room message, or one in a room you moderate. */
export class Delete extends Schema.Class<Delete>("Delete")({
  command: Schema.tag("DELETE"),
  id,
  message_id: MessageId,
  reason: Schema.optional(Reason)
}) {}

/** AUDIT: a page of a room's moderation log, newest first. */
export class Audit extends Schema.Class<Audit>("Audit")({
  command: Schema.tag("AUDIT"),
  id,
  room,
  before: Schema.optional(AuditId),
  limit: Schema.optional(Limit)
}) {}

/** LOCK: end an account's sessions and refuse its logins (server admins). */
export class Lock extends Schema.Class<Lock>("Lock")({
  command: Schema.tag("LOCK"),
  id,
  user,
  reason: Schema.optional(Reason)
}) {}

/** UNLOCK: let a locked account log in again (server admins). */
export class Unlock extends Schema.Class<Unlock>("Unlock")({ command: Schema.tag("UNLOCK"), id, user }) {}

/** Any room command. */
export const RoomCommand = Schema.Union(
  RoomCreate,
  Join,
  Part,
  Rooms,
  Members,
  SetTopic,
  Invite,
  SetRole,
  Kick,
  Ban,
  Unban,
  Mute,
  Unmute,
  RoomDelete,
  Edit,
  Delete,
  Audit,
  Lock,
  Unlock
)
export type RoomCommand = typeof RoomCommand.Type
