/**
 * Protocol errors: one `Schema.TaggedError` per wire error code, turned into
 * `ERROR` frames by the single exhaustive mapper `toErrorFrame`.
 */
import { Schema } from "effect"
import type { RequestId } from "./Fields.ts"
import type { ErrorCode, ErrorFrame } from "./ServerFrames.ts"

const fields = { message: Schema.String }

export class InvalidJson extends Schema.TaggedError<InvalidJson>()("InvalidJson", fields) {}
export class InvalidCommand extends Schema.TaggedError<InvalidCommand>()("InvalidCommand", fields) {}
export class UnknownCommand extends Schema.TaggedError<UnknownCommand>()("UnknownCommand", fields) {}
export class FrameTooLarge extends Schema.TaggedError<FrameTooLarge>()("FrameTooLarge", fields) {}
export class NotAuthenticated extends Schema.TaggedError<NotAuthenticated>()("NotAuthenticated", fields) {}
export class AlreadyAuthenticated extends Schema.TaggedError<AlreadyAuthenticated>()("AlreadyAuthenticated", fields) {}
export class AuthFailed extends Schema.TaggedError<AuthFailed>()("AuthFailed", fields) {}
export class UsernameTaken extends Schema.TaggedError<UsernameTaken>()("UsernameTaken", fields) {}
export class UnknownUser extends Schema.TaggedError<UnknownUser>()("UnknownUser", fields) {}
export class NotFound extends Schema.TaggedError<NotFound>()("NotFound", fields) {}
export class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", {
  message: Schema.String,
  retryAfterMs: Schema.NonNegativeInt
}) {}
/** The database cannot be reached or written right now: nothing was stored; retry after `retryAfterMs`. */
export class Unavailable extends Schema.TaggedError<Unavailable>()("Unavailable", {
  message: Schema.String,
  retryAfterMs: Schema.NonNegativeInt
}) {}
export class Internal extends Schema.TaggedError<Internal>()("Internal", fields) {}
/** No room has that name, or it is private and the actor may not know of it (v1.2). */
export class NoSuchRoom extends Schema.TaggedError<NoSuchRoom>()("NoSuchRoom", fields) {}
/** The actor is not a member of the room, and the command needs them to be (v1.2). */
export class NotMember extends Schema.TaggedError<NotMember>()("NotMember", fields) {}
/** The actor's role does not allow it; `action` says what was refused (v1.2). */
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", {
  message: Schema.String,
  action: Schema.String
}) {}
/** Banned from the room until `expiresAt` (null: until lifted) (v1.2). */
export class Banned extends Schema.TaggedError<Banned>()("Banned", {
  message: Schema.String,
  expiresAt: Schema.NullOr(Schema.String)
}) {}
/** Muted in the room until `expiresAt` (null: until lifted) (v1.2). */
export class Muted extends Schema.TaggedError<Muted>()("Muted", {
  message: Schema.String,
  expiresAt: Schema.NullOr(Schema.String)
}) {}
/** ROOM_CREATE with a name that exists, ignoring case (v1.2). */
export class RoomNameTaken extends Schema.TaggedError<RoomNameTaken>()("RoomNameTaken", fields) {}

/** Every error a request can be answered with. */
export type ProtocolError =
  | InvalidJson
  | InvalidCommand
  | UnknownCommand
  | FrameTooLarge
  | NotAuthenticated
  | AlreadyAuthenticated
  | AuthFailed
  | UsernameTaken
  | UnknownUser
  | NotFound
  | RateLimited
  | Unavailable
  | Internal
  | NoSuchRoom
  | NotMember
  | Forbidden
  | Banned
  | Muted
  | RoomNameTaken

/** The wire code of each error tag. */
export const errorCodes: { readonly [K in ProtocolError["_tag"]]: ErrorCode } = {
  InvalidJson: "INVALID_JSON",
  InvalidCommand: "INVALID_COMMAND",
  UnknownCommand: "UNKNOWN_COMMAND",
  FrameTooLarge: "FRAME_TOO_LARGE",
  NotAuthenticated: "NOT_AUTHENTICATED",
  AlreadyAuthenticated: "ALREADY_AUTHENTICATED",
  AuthFailed: "AUTH_FAILED",
  UsernameTaken: "USERNAME_TAKEN",
  UnknownUser: "UNKNOWN_USER",
  NotFound: "NOT_FOUND",
  RateLimited: "RATE_LIMITED",
  Unavailable: "UNAVAILABLE",
  Internal: "INTERNAL",
  NoSuchRoom: "NO_SUCH_ROOM",
  NotMember: "NOT_MEMBER",
  Forbidden: "FORBIDDEN",
  Banned: "BANNED",
  Muted: "MUTED",
  RoomNameTaken: "ROOM_NAME_TAKEN"
}

/** Turns a protocol error into its `ERROR` frame, echoing the request's id. */
export const toErrorFrame = (error: ProtocolError, id?: RequestId): ErrorFrame => {
  const frame: { -readonly [K in keyof ErrorFrame]: ErrorFrame[K] } = {
    type: "ERROR",
    code: errorCodes[error._tag],
    message: error.message
  }
  if (error._tag === "RateLimited" || error._tag === "Unavailable") frame.retry_after_ms = error.retryAfterMs
  if (error._tag === "Forbidden") frame.action = error.action
  if (error._tag === "Banned" || error._tag === "Muted") frame.expires_at = error.expiresAt
  if (id !== undefined) frame.id = id
  return frame
}
