/**
 * The frames this client speaks: protocol v1's, plus what v1.2 (rooms, docs/protocol.md "Rooms,
 * roles and moderation") adds to them. `@parley/protocol`'s `Command` and `ServerFrame` unions do
 * not hold the v1.2 additions yet; until they do, this is the one place the client reads them:
 * `room` and `edited_at` on MESSAGE, `rooms` on CONNECTED, `features` on HELLO, the room error
 * codes with `action` / `expires_at`, BYE `locked`, and the room replies and events. Once the
 * protocol's schemas carry these fields, `Incoming` becomes its `ServerFrame` and this shrinks to
 * nothing.
 */
import {
  Ack,
  Bye,
  ByeReason,
  type Command,
  Connected,
  ErrorCode,
  ErrorFrame,
  Hello,
  HistoryPage,
  Message,
  Name,
  Ok,
  Pong,
  Presence,
  Receipt,
  Registered,
  type RequestId,
  RoomFrame,
  RoomInfo,
  SessionsList,
  Timestamp,
  Truncated,
  UsersList
} from "@parley/protocol"
import { Schema } from "effect"

/** The error codes protocol v1.2 adds. */
export const RoomErrorCode = Schema.Literal(
  "NO_SUCH_ROOM",
  "NOT_MEMBER",
  "FORBIDDEN",
  "BANNED",
  "MUTED",
  "ROOM_NAME_TAKEN"
)
export type RoomErrorCode = typeof RoomErrorCode.Type

/** Any error code, v1's and v1.2's. */
export const AnyErrorCode = Schema.Union(ErrorCode, RoomErrorCode)
export type AnyErrorCode = typeof AnyErrorCode.Type

const roomErrorCodes: ReadonlySet<string> = new Set(RoomErrorCode.literals)

/** Whether a code is one of the room codes (v1.2). */
export const isRoomErrorCode = (code: AnyErrorCode): code is RoomErrorCode => roomErrorCodes.has(code)

// the protocol schema will carry these fields (v1.2); until then they are read here, leniently
// (all optional, so a v1 server's frames decode as before)

/** MESSAGE, with its room (`null` for a DM) and, in HISTORY and replay, when it was edited. */
export const RoomMessage = Schema.extend(
  Message,
  Schema.Struct({ room: Schema.optional(Schema.NullOr(Name)), edited_at: Schema.optional(Timestamp) })
)
export type RoomMessage = typeof RoomMessage.Type

const HistoryV12 = Schema.Struct({ ...HistoryPage.fields, messages: Schema.Array(RoomMessage) })
/** A HISTORY page whose entries carry their room. */
export type RoomHistoryPage = typeof HistoryV12.Type

const ConnectedV12 = Schema.extend(Connected, Schema.Struct({ rooms: Schema.optional(Schema.Array(RoomInfo)) }))
/** CONNECTED, with the rooms you are a member of when you opted in with `rooms: true`. */
export type RoomConnected = typeof ConnectedV12.Type

const HelloV12 = Schema.extend(Hello, Schema.Struct({ features: Schema.optional(Schema.Array(Schema.String)) }))
/** HELLO, with the features (`"rooms"`) a v1.2 server announces. */
export type RoomHello = typeof HelloV12.Type

const ErrorV12 = Schema.Struct({
  ...ErrorFrame.fields,
  code: AnyErrorCode,
  /** FORBIDDEN: what was refused (a command name, or `part_general`, `last_owner`, …). */
  action: Schema.optional(Schema.String),
  /** BANNED, MUTED: until when (`null`: until lifted). */
  expires_at: Schema.optional(Schema.NullOr(Timestamp))
})
export type AnyErrorFrame = typeof ErrorV12.Type

const ByeV12 = Schema.Struct({
  ...Bye.fields,
  reason: Schema.optional(Schema.Union(ByeReason, Schema.Literal("locked")))
})

/** Every frame this client understands, v1's and v1.2's. */
export const Incoming = Schema.Union(
  HelloV12,
  Registered,
  ConnectedV12,
  Ack,
  RoomMessage,
  HistoryV12,
  Ok,
  UsersList,
  SessionsList,
  Pong,
  ByeV12,
  ErrorV12,
  Presence,
  Receipt,
  Truncated,
  ...RoomFrame.members
)
export type Incoming = typeof Incoming.Type

/** A room event, as sent to the members of a room (never a reply). */
export type RoomEvent = Extract<
  Incoming,
  { readonly type: "MEMBER" | "TOPIC" | "EDITED" | "DELETED" | "ROOM_DELETED" | "INVITED" }
>

const roomEventTypes: ReadonlySet<string> = new Set(["MEMBER", "TOPIC", "EDITED", "DELETED", "ROOM_DELETED", "INVITED"])

/** Whether a frame is a room event. */
export const isRoomEvent = (frame: { readonly type: string }): frame is RoomEvent => roomEventTypes.has(frame.type)

/** A command already encoded to its JSON object: one the protocol's `Command` union does not hold yet. */
export interface Encoded {
  readonly _tag: "Encoded"
  readonly json: { readonly command: string; readonly [field: string]: unknown }
}

/** What a connection writes: a v1 command, or an encoded v1.2 one. */
export type Outgoing = Command | Encoded

/** Wraps an encoded command. */
export const encoded = (json: Encoded["json"]): Encoded => ({ _tag: "Encoded", json })

/** An outgoing command with its request `id`. */
export const withId = (command: Outgoing, id: RequestId): Outgoing =>
  "json" in command ? encoded({ ...command.json, id }) : ({ ...command, id }) as Command

const utf8 = new TextEncoder()

/** An outgoing command as its wire line, newline included. */
export const encodeOutgoing = (command: Outgoing): Uint8Array =>
  utf8.encode(JSON.stringify("json" in command ? command.json : command) + "\n")
