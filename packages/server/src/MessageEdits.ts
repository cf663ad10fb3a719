/**
 * EDIT and DELETE of room messages (docs/protocol.md, "Editing and deleting
 * messages"). Both ask `authorize` about the message's room with its sender
 * as the target; a message the user cannot see (not stored, deleted, in a
 * room they may not read, someone else's DM) is NOT_FOUND, whatever the
 * reason, so an id reveals nothing. Edits are judged by the Clock: message
 * timestamps come from it too (GroupCommit).
 */
import {
  codePointLength,
  type Delete,
  type Edit,
  encodeFrame,
  Forbidden,
  InvalidCommand,
  MAX_TEXT_CHARS,
  NotFound,
  type RequestId
} from "@parley/protocol"
import { Clock, DateTime, Effect, Option } from "effect"
import type { CommandTable, Shared } from "./Command.ts"
import { withId } from "./Command.ts"
import type { LoggedIn } from "./Connection.ts"
import { roomFor } from "./RoomHandlers.ts"

/** How long after its timestamp a message can be edited. */
const EDIT_WINDOW_MS = 15 * 60_000

/** Refusals that would tell the user something about a room they cannot read. */
const HIDDEN = new Set(["NoSuchRoom", "NotMember", "Banned"])

const ok = (conn: LoggedIn, id: RequestId | undefined) => conn.send(withId({ type: "OK" as const }, id))

/** The message and its room, if the user may do `action` to it. */
const messageFor = (shared: Shared, conn: LoggedIn, messageId: number, action: "EDIT" | "DELETE") =>
  Effect.gen(function*() {
    const me = conn.auth.userId
    const notFound = new NotFound({ message: `no message ${messageId} that you can see` })
    const found = yield* shared.messages.stored(messageId)
    if (Option.isNone(found) || Boolean(found.value.deleted)) return yield* notFound
    const m = found.value
    if (m.receiverId !== null) {
      if (m.senderId !== me && m.receiverId !== me) return yield* notFound
      return yield* new Forbidden({ action, message: "direct messages cannot be edited or deleted" })
    }
    if (m.roomId === null || Boolean(m.roomDeleted)) return yield* notFound
    const room = { id: m.roomId, name: m.roomName!, visibility: m.visibility!, topic: m.topic ?? "" }
    const allowed = yield* roomFor(shared, room, conn, action, { sender: m.senderId }).pipe(
      Effect.catchIf((refusal) => HIDDEN.has(refusal._tag), () => Effect.fail(notFound))
    )
    return { ...allowed, message: m } as const
  })

const edit = (shared: Shared) => (command: Edit, conn: LoggedIn) =>
  Effect.gen(function*() {
    // the schema enforces the protocol's 4096; an embedder may announce (and enforce) less
    if (shared.config.maxTextChars < MAX_TEXT_CHARS && codePointLength(command.text) > shared.config.maxTextChars) {
      return yield* new InvalidCommand({ message: `text: must be 1..${shared.config.maxTextChars} characters` })
    }
    const { message, room } = yield* messageFor(shared, conn, command.message_id, "EDIT")
    const now = yield* Clock.currentTimeMillis
    if (now - Date.parse(message.timestamp) > EDIT_WINDOW_MS) {
      return yield* new Forbidden({ action: "edit_window", message: "a message can be edited for 15 minutes" })
    }
    const editedAt = DateTime.formatIso(DateTime.unsafeMake(now))
    yield* shared.commit.write(shared.messages.edit(command.message_id, command.text, editedAt))
    ok(conn, command.id)
    const event = {
      type: "EDITED",
      message_id: command.message_id,
      room: room.name,
      text: command.text,
      edited_at: editedAt
    } as const
    shared.hub.toRoom(room.id, encodeFrame(event), conn)
  })

const remove = (shared: Shared) => (command: Delete, conn: LoggedIn) =>
  Effect.gen(function*() {
    const me = conn.auth
    const { message, now, room } = yield* messageFor(shared, conn, command.message_id, "DELETE")
    const reason = command.reason ?? null
    const deleting = shared.messages.softDelete(command.message_id, me.userId, reason, now)
    // a moderator's delete of someone else's message is moderation, and audited
    const audit = shared.rooms.audit({
      roomId: room.id,
      actorId: me.userId,
      action: "delete",
      target: String(command.message_id),
      reason,
      expiresAt: null,
      at: now
    })
    yield* shared.commit.write(message.senderId === me.userId ? deleting : Effect.zipRight(deleting, audit))
    ok(conn, command.id)
    const event = { type: "DELETED", message_id: command.message_id, room: room.name, by: me.username } as const
    shared.hub.toRoom(room.id, encodeFrame(event), conn)
  })

/** The EDIT and DELETE entries of the command table: after login only. */
export const editCommands = (shared: Shared): Pick<CommandTable, "EDIT" | "DELETE"> => ({
  EDIT: { access: "member", handle: edit(shared) },
  DELETE: { access: "member", handle: remove(shared) }
})
