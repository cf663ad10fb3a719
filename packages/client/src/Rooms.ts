/**
 * The room commands of protocol v1.2 (docs/protocol.md, "Rooms, roles and moderation") as typed
 * requests. The protocol's `Command` union does not hold them yet, so each is checked and encoded
 * here with its own `RoomCommands` schema and written as an encoded frame; the replies are read
 * with the `RoomFrames` schemas (through `Frames.Incoming`). A malformed argument (a room name
 * outside the rule, a topic with a newline) fails as `InvalidInput` before anything is sent.
 */
import {
  Audit,
  type AuditPage,
  Ban,
  Delete,
  describeParseError,
  Edit,
  Invite,
  Join,
  Kick,
  Lock,
  Members,
  type MembersList,
  Mute,
  Part,
  type Role,
  RoomCreate,
  RoomDelete,
  type RoomInfo,
  Rooms,
  SetRole,
  SetTopic,
  Unban,
  Unlock,
  Unmute,
  type Visibility
} from "@parley/protocol"
import { Effect, Either, Schema } from "effect"
import { InvalidInput, type RequestError } from "./ClientError.ts"
import { type Encoded, encoded, type Incoming } from "./Frames.ts"

/** Why a room request failed: as any request, or an argument the server would refuse. */
export type RoomError = RequestError | InvalidInput

/** How long a ban or mute lasts, and why; both optional. */
export interface Sanction {
  /** Seconds, 1 to 31,536,000; absent: until lifted. */
  readonly durationS?: number | undefined
  readonly reason?: string | undefined
}

/** A page of a room's audit log, newest first. */
export interface AuditQuery {
  readonly before?: number | undefined
  readonly limit?: number | undefined
}

/** The room methods of the client. */
export interface RoomMethods {
  /** ROOM_CREATE: a new room with you as its owner. */
  readonly createRoom: (
    room: string,
    visibility: Visibility,
    topic?: string
  ) => Effect.Effect<RoomInfo, RoomError>
  /** JOIN: a public room, or a private one you were invited to. */
  readonly join: (room: string) => Effect.Effect<RoomInfo, RoomError>
  /** PART: leave a room. */
  readonly part: (room: string) => Effect.Effect<void, RoomError>
  /** ROOMS: the public rooms and the private rooms you are in (`general` first). */
  readonly rooms: Effect.Effect<ReadonlyArray<RoomInfo>, RoomError>
  /** MEMBERS: a room's members, roles and presence. */
  readonly members: (room: string) => Effect.Effect<MembersList, RoomError>
  /** TOPIC: set the topic ("" clears it). */
  readonly setTopic: (room: string, topic: string) => Effect.Effect<void, RoomError>
  /** INVITE: let `user` join a private room once. */
  readonly invite: (room: string, user: string) => Effect.Effect<void, RoomError>
  /** ROLE: change a member's role. */
  readonly setRole: (room: string, user: string, role: Role) => Effect.Effect<void, RoomError>
  /** KICK: remove a member. */
  readonly kick: (room: string, user: string, reason?: string) => Effect.Effect<void, RoomError>
  /** BAN: remove `user` and keep them out. */
  readonly ban: (room: string, user: string, sanction?: Sanction) => Effect.Effect<void, RoomError>
  /** UNBAN: lift a ban. */
  readonly unban: (room: string, user: string) => Effect.Effect<void, RoomError>
  /** MUTE: `user` may read but not send. */
  readonly mute: (room: string, user: string, sanction?: Sanction) => Effect.Effect<void, RoomError>
  /** UNMUTE: lift a mute. */
  readonly unmute: (room: string, user: string) => Effect.Effect<void, RoomError>
  /** ROOM_DELETE: delete a room. */
  readonly deleteRoom: (room: string) => Effect.Effect<void, RoomError>
  /** EDIT: replace the text of your own room message (within 15 minutes). */
  readonly edit: (messageId: number, text: string) => Effect.Effect<void, RoomError>
  /** DELETE: remove your own room message, or one in a room you moderate. */
  readonly deleteMessage: (messageId: number, reason?: string) => Effect.Effect<void, RoomError>
  /** AUDIT: a page of a room's moderation log. */
  readonly audit: (room: string, query?: AuditQuery) => Effect.Effect<AuditPage, RoomError>
  /** LOCK: end an account's sessions and refuse its logins (server admins). */
  readonly lock: (user: string, reason?: string) => Effect.Effect<void, RoomError>
  /** UNLOCK: let a locked account log in again (server admins). */
  readonly unlock: (user: string) => Effect.Effect<void, RoomError>
}

/** Sends an encoded command and reads its reply; the client supplies it (live link, ERROR mapping). */
export type Requester = <A>(
  what: string,
  command: Encoded,
  accept: (frame: Incoming) => A | undefined
) => Effect.Effect<A, RoomError>

/**
 * Checks `fields` against a room command's schema and encodes it. The schemas are the protocol's:
 * the same rules the server applies, so a refusal here is the one the server would give.
 */
export const encodeRoomCommand = <A, I extends Encoded["json"]>(
  schema: Schema.Schema<A, I>,
  fields: I
): Either.Either<Encoded, InvalidInput> =>
  Either.match(Schema.decodeEither(schema, { errors: "first" })(fields), {
    onLeft: (error) => Either.left(new InvalidInput({ reason: describeParseError(error) })),
    onRight: (command) => Either.right(encoded(Schema.encodeSync(schema)(command)))
  })

// optional fields are left out, never sent as undefined
const opt = <K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } =>
  (value === undefined ? {} : { [key]: value }) as { [P in K]?: V }

const ok = (frame: Incoming) => (frame.type === "OK" ? true : undefined)
const room = (frame: Incoming) => (frame.type === "ROOM" ? frame.room : undefined)

/** The room methods over `request`. */
export const make = (request: Requester): RoomMethods => {
  const send = <A, I extends Encoded["json"], B>(
    what: string,
    schema: Schema.Schema<A, I>,
    fields: I,
    accept: (frame: Incoming) => B | undefined
  ): Effect.Effect<B, RoomError> =>
    Effect.flatMap(encodeRoomCommand(schema, fields), (command) => request(what, command, accept)).pipe(
      Effect.withSpan(`ChatClient.${what}`)
    )
  const done = <A, I extends Encoded["json"]>(what: string, schema: Schema.Schema<A, I>, fields: I) =>
    Effect.asVoid(send(what, schema, fields, ok))
  return {
    createRoom: (name, visibility, topic) =>
      send("ROOM_CREATE", RoomCreate, { command: "ROOM_CREATE", room: name, visibility, ...opt("topic", topic) }, room),
    join: (name) => send("JOIN", Join, { command: "JOIN", room: name }, room),
    part: (name) => done("PART", Part, { command: "PART", room: name }),
    rooms: send("ROOMS", Rooms, { command: "ROOMS" }, (f) => (f.type === "ROOMS" ? f.rooms : undefined)),
    members: (name) =>
      send("MEMBERS", Members, { command: "MEMBERS", room: name }, (f) => (f.type === "MEMBERS" ? f : undefined)),
    setTopic: (name, topic) => done("TOPIC", SetTopic, { command: "TOPIC", room: name, topic }),
    invite: (name, user) => done("INVITE", Invite, { command: "INVITE", room: name, user }),
    setRole: (name, user, role) => done("ROLE", SetRole, { command: "ROLE", room: name, user, role }),
    kick: (name, user, reason) => done("KICK", Kick, { command: "KICK", room: name, user, ...opt("reason", reason) }),
    ban: (name, user, sanction = {}) =>
      done("BAN", Ban, {
        command: "BAN",
        room: name,
        user,
        ...opt("duration_s", sanction.durationS),
        ...opt("reason", sanction.reason)
      }),
    unban: (name, user) => done("UNBAN", Unban, { command: "UNBAN", room: name, user }),
    mute: (name, user, sanction = {}) =>
      done("MUTE", Mute, {
        command: "MUTE",
        room: name,
        user,
        ...opt("duration_s", sanction.durationS),
        ...opt("reason", sanction.reason)
      }),
    unmute: (name, user) => done("UNMUTE", Unmute, { command: "UNMUTE", room: name, user }),
    deleteRoom: (name) => done("ROOM_DELETE", RoomDelete, { command: "ROOM_DELETE", room: name }),
    edit: (messageId, text) => done("EDIT", Edit, { command: "EDIT", message_id: messageId, text }),
    deleteMessage: (messageId, reason) =>
      done("DELETE", Delete, { command: "DELETE", message_id: messageId, ...opt("reason", reason) }),
    audit: (name, query = {}) =>
      send(
        "AUDIT",
        Audit,
        { command: "AUDIT", room: name, ...opt("before", query.before), ...opt("limit", query.limit) },
        (f) => (f.type === "AUDIT" ? f : undefined)
      ),
    lock: (user, reason) => done("LOCK", Lock, { command: "LOCK", user, ...opt("reason", reason) }),
    unlock: (user) => done("UNLOCK", Unlock, { command: "UNLOCK", user })
  }
}
