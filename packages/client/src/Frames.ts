/**
 * The frames this client speaks: protocol v1's, plus what v1.2 (rooms, docs/protocol.md "Rooms,
 * roles and moderation") adds to them, under the names the client uses. The protocol's schemas
 * carry every v1.2 field (all optional where a v1 server would leave them out); room commands go
 * out already encoded (`Encoded`), each checked against its schema in `Rooms.ts`.
 */
import {
  type Command,
  type Connected,
  ErrorCode,
  type ErrorFrame,
  type Hello,
  type HistoryPage,
  type Message,
  type RequestId,
  ServerFrame
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
export const AnyErrorCode = ErrorCode
export type AnyErrorCode = typeof AnyErrorCode.Type

const roomErrorCodes: ReadonlySet<string> = new Set(RoomErrorCode.literals)

/** Whether a code is one of the room codes (v1.2). */
export const isRoomErrorCode = (code: AnyErrorCode): code is RoomErrorCode => roomErrorCodes.has(code)

/** MESSAGE, with its room (`null` for a DM) and, in HISTORY and replay, when it was edited. */
export type RoomMessage = Message
/** A HISTORY page whose entries carry their room. */
export type RoomHistoryPage = HistoryPage
/** CONNECTED, with the rooms you are a member of when you opted in with `rooms: true`. */
export type RoomConnected = Connected
/** HELLO, with the features (`"rooms"`) a v1.2 server announces. */
export type RoomHello = Hello
/** ERROR, with FORBIDDEN's `action` and BANNED/MUTED's `expires_at`. */
export type AnyErrorFrame = ErrorFrame

/** Every frame this client understands, v1's and v1.2's. */
export const Incoming = ServerFrame
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

/** An outgoing command as its frame: the JSON, without the newline (the transport adds what it needs). */
export const encodeFrame = (command: Outgoing): string => JSON.stringify("json" in command ? command.json : command)
