/**
 * Client-to-server frames. Each command is a `Schema.Class` discriminated on
 * `command`; unknown fields are stripped on decode and never trusted.
 */
import { Schema } from "effect"
import { ClientMsgId, Limit, LoginSecret, MessageId, Password, RequestId, RoomName, Text, Username } from "./Fields.ts"
import {
  Audit,
  Ban,
  Delete,
  Edit,
  Invite,
  Join,
  Kick,
  Lock,
  Members,
  Mute,
  Part,
  RoomCreate,
  RoomDelete,
  Rooms,
  SetRole,
  SetTopic,
  Unban,
  Unlock,
  Unmute
} from "./RoomCommands.ts"

const id = Schema.optional(RequestId)

/** REGISTER: create an account (before CONNECT). */
export class Register extends Schema.Class<Register>("Register")({
  command: Schema.tag("REGISTER"),
  id,
  username: Username,
  password: Password
}) {}

/**
 * CONNECT: authenticate with exactly one of `password` or `token`. Name,
 * password and token are any strings here (bounded in length): a malformed
 * one must read as `AUTH_FAILED`, exactly like a wrong one, not as a field error.
 */
export class Connect extends Schema.Class<Connect>("Connect")(
  Schema.Struct({
    command: Schema.tag("CONNECT"),
    id,
    username: Schema.String,
    password: Schema.optional(LoginSecret(1024, "password")),
    token: Schema.optional(LoginSecret(512, "token")),
    resume_after: Schema.optional(MessageId),
    /** v1.2: receive the traffic of your rooms on this connection. */
    rooms: Schema.optional(Schema.Boolean)
  }).pipe(
    Schema.filter((c) =>
      (c.password === undefined) === (c.token === undefined)
        ? "password/token: CONNECT needs exactly one of password and token"
        : undefined
    )
  )
) {}

const given = (value: unknown) => value !== undefined && value !== null

/** MSG: a public message (to `general`), a DM when `to` names a user, or a message to `room` (v1.2). */
export class Msg extends Schema.Class<Msg>("Msg")(
  Schema.Struct({
    command: Schema.tag("MSG"),
    id,
    text: Text,
    to: Schema.optional(Schema.NullOr(Schema.String)),
    room: Schema.optional(RoomName),
    client_msg_id: Schema.optional(ClientMsgId)
  }).pipe(
    Schema.filter((c) =>
      given(c.to) && c.room !== undefined ? "room/to: a MSG goes to a room or to a user, not both" : undefined
    )
  )
) {}

/** HISTORY: a page of the public timeline (no `with`, or null), of the DMs `with` one user, or of `room` (v1.2). */
export class History extends Schema.Class<History>("History")(
  Schema.Struct({
    command: Schema.tag("HISTORY"),
    id,
    with: Schema.optional(Schema.NullOr(Schema.String)),
    room: Schema.optional(RoomName),
    before: Schema.optional(MessageId),
    after: Schema.optional(MessageId),
    limit: Schema.optional(Limit)
  }).pipe(
    Schema.filter((c) =>
      given(c.with) && c.room !== undefined ? "room/with: HISTORY of a room or with a user, not both" : undefined
    )
  )
) {}

/**
 * READ: mark a DM addressed to you (and every earlier one from its sender) as
 * read; with `room` (v1.2), move your read mark in that room.
 */
export class Read extends Schema.Class<Read>("Read")({
  command: Schema.tag("READ"),
  id,
  room: Schema.optional(RoomName),
  message_id: MessageId
}) {}

/** USERS: who is online. */
export class Users extends Schema.Class<Users>("Users")({
  command: Schema.tag("USERS"),
  id
}) {}

/** SESSIONS: your open sessions (logged-in connections). */
export class Sessions extends Schema.Class<Sessions>("Sessions")({
  command: Schema.tag("SESSIONS"),
  id
}) {}

/** A `session_id`: the positive integer a CONNECTED carried. */
const SessionId = Schema.Int.pipe(
  Schema.nonNegative({ message: () => "must be a non-negative integer session_id" }),
  Schema.annotations({ identifier: "SessionId" })
)

/**
 * REVOKE: end one of your sessions (`session_id`) or all but this one
 * (`all_others: true`), revoking the tokens they logged in with.
 */
export class Revoke extends Schema.Class<Revoke>("Revoke")(
  Schema.Struct({
    command: Schema.tag("REVOKE"),
    id,
    session_id: Schema.optional(SessionId),
    all_others: Schema.optional(Schema.Boolean)
  }).pipe(
    Schema.filter((c) =>
      (c.session_id !== undefined) !== (c.all_others !== undefined) && c.all_others !== false
        ? undefined
        : "session_id/all_others: REVOKE needs exactly one of session_id and \"all_others\": true"
    )
  )
) {}

/** PING: liveness check, answered with PONG. */
export class Ping extends Schema.Class<Ping>("Ping")({
  command: Schema.tag("PING"),
  id
}) {}

/** DISCONNECT: answered with BYE, then the server closes. */
export class Disconnect extends Schema.Class<Disconnect>("Disconnect")({
  command: Schema.tag("DISCONNECT"),
  id
}) {}

/** Any client command. */
export const Command = Schema.Union(
  Register,
  Connect,
  Msg,
  History,
  Read,
  Users,
  Sessions,
  Revoke,
  Ping,
  Disconnect,
  RoomCreate,
  Join,
  Part,
  Rooms,
  Members,
  SetTopic,
  Invite,
  RoomDelete,
  SetRole,
  Kick,
  Ban,
  Unban,
  Mute,
  Unmute,
  Audit,
  Edit,
  Delete,
  Lock,
  Unlock
)
export type Command = typeof Command.Type

export type CommandName = Command["command"]

/** The whitelist: each command name with its schema. */
export const commandSchemas = {
  REGISTER: Register,
  CONNECT: Connect,
  MSG: Msg,
  HISTORY: History,
  READ: Read,
  USERS: Users,
  SESSIONS: Sessions,
  REVOKE: Revoke,
  PING: Ping,
  DISCONNECT: Disconnect,
  ROOM_CREATE: RoomCreate,
  JOIN: Join,
  PART: Part,
  ROOMS: Rooms,
  MEMBERS: Members,
  TOPIC: SetTopic,
  INVITE: Invite,
  ROOM_DELETE: RoomDelete,
  ROLE: SetRole,
  KICK: Kick,
  BAN: Ban,
  UNBAN: Unban,
  MUTE: Mute,
  UNMUTE: Unmute,
  AUDIT: Audit,
  EDIT: Edit,
  DELETE: Delete,
  LOCK: Lock,
  UNLOCK: Unlock
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- a schema's encoded type is invariant: any, not unknown
} as const satisfies { readonly [K in CommandName]: Schema.Schema<Extract<Command, { command: K }>, any> }

export const commandNames = Object.keys(commandSchemas) as ReadonlyArray<CommandName>
