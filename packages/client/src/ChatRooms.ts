/**
 * The room side of the terminal program: runs a parsed room command against
 * the client and says the outcome in one line, follows room events and
 * messages into the room tabs (unread counts, rooms joined and lost), and
 * remembers the last message per room and sender for /edit and /delete.
 */
import { GENERAL_ROOM, type MemberInfo, type RoomInfo } from "@parley/protocol"
import { Effect, Either } from "effect"
import type { ChatClient } from "./ChatClient.ts"
import type { RoomEvent, RoomMessage } from "./Frames.ts"
import type { RoomInput } from "./RoomInput.ts"
import type { RoomError } from "./Rooms.ts"
import { humanDuration } from "./RoomStyle.ts"
import type { RoomTabs } from "./RoomTabs.ts"
import { sanitize, type Style } from "./Style.ts"

const because = (reason: string | undefined) => (reason === undefined || reason === "" ? "" : `: ${reason}`)
const lasting = (seconds: number | undefined) =>
  seconds === undefined ? " until lifted" : ` for ${humanDuration(seconds * 1000)}`

/** What the room commands need of the running chat. */
export interface RoomContext {
  readonly client: ChatClient.Service
  readonly style: Style
  readonly rooms: RoomTabs
  readonly me: string
  /** The newest message id per `room\0sender` (lower case), for /edit and /delete. */
  readonly lastBy: Map<string, number>
  readonly info: (s: string) => void
  readonly fail: (s: string) => void
}

const key = (room: string, user: string) => `${room.toLowerCase()}\0${user.toLowerCase()}`

/** The room a message belongs to: null for a DM; `general` when a v1 server leaves `room` out. */
export const roomOf = (message: RoomMessage): string | null =>
  message.to !== null ? null : (message.room ?? GENERAL_ROOM)

/** Notes a message shown: its room's count, and the newest message of its sender there. */
export const noteMessage = (ctx: RoomContext, message: RoomMessage): void => {
  const room = roomOf(message)
  if (room === null) return
  ctx.lastBy.set(key(room, message.from), message.message_id)
  if (message.from.toLowerCase() !== ctx.me.toLowerCase()) ctx.rooms.arrived(room)
}

const aboutMe = (ctx: RoomContext, user: string) => user.toLowerCase() === ctx.me.toLowerCase()

/** Keeps the tabs in step with a room event (a room joined elsewhere, a kick, a deleted room). */
export const noteEvent = (ctx: RoomContext, event: RoomEvent): void => {
  switch (event.type) {
    case "MEMBER":
      if (!aboutMe(ctx, event.user)) return
      if (event.event === "joined") ctx.rooms.add(event.room)
      if (event.event === "left" || event.event === "kicked" || event.event === "banned") ctx.rooms.remove(event.room)
      break
    case "ROOM_DELETED":
      ctx.rooms.remove(event.room)
      break
    default:
      return
  }
}

/** A refusal in words a person can act on. */
export const describeRoomError = (error: RoomError, room: string | undefined): string => {
  if (error._tag === "NotConnected") return "not connected right now: try again once the status line says connected"
  if (error._tag !== "RoomRejected") return error.message
  const until = error.expiresAt === undefined || error.expiresAt === null
    ? " until lifted"
    : ` for ${humanDuration(Date.parse(error.expiresAt) - Date.now())}`
  switch (error.code) {
    case "NO_SUCH_ROOM":
      return `no room named ${room ?? "that"} (or it is private and you are not invited)`
    case "NOT_MEMBER":
      return `you are not in ${room ?? "that room"}: /join it first`
    case "FORBIDDEN":
      return `not allowed${error.action !== undefined ? ` (${error.action})` : ""}: ${error.reason}`
    case "BANNED":
      return `banned from ${room ?? "that room"}${until}`
    case "MUTED":
      return `you are muted in ${room ?? "that room"}${until}`
    case "ROOM_NAME_TAKEN":
      return `the name ${room ?? ""} is taken: choose another`
  }
}

const describeRoom = (style: Style, r: RoomInfo, current: string) =>
  `  ${r.name.toLowerCase() === current.toLowerCase() ? "*" : " "} ${r.name.padEnd(20)} ${
    style.dim(`${r.visibility}, ${r.members} member${r.members === 1 ? "" : "s"}`)
  }${r.role !== null && r.role !== "member" ? style.dim(`, you: ${r.role}`) : ""}${
    r.role === null ? style.dim(" (/join)") : ""
  }${r.unread > 0 ? style.yellow(` ${r.unread} unread`) : ""}${r.topic !== "" ? ` — ${sanitize(r.topic)}` : ""}`

const describeMember = (style: Style, m: MemberInfo) =>
  `  ${m.online ? style.green("●") : style.dim("○")} ${m.user}${m.role !== "member" ? style.dim(` (${m.role})`) : ""}`

/** Runs one room command; prints the outcome (never fails). */
export const runRoomInput = (ctx: RoomContext, input: RoomInput): Effect.Effect<void> => {
  const here = ctx.rooms.current
  const attempt = <A>(room: string | undefined, effect: Effect.Effect<A, RoomError>, ok: (a: A) => void) =>
    Effect.map(
      Effect.either(effect),
      (result) => Either.isLeft(result) ? ctx.fail(describeRoomError(result.left, room)) : ok(result.right)
    )
  const switched = (r: RoomInfo, verb: string) => {
    ctx.rooms.add(r.name)
    ctx.rooms.switchTo(r.name)
    ctx.info(`${verb} ${r.name}${r.topic !== "" ? ` — ${sanitize(r.topic)}` : ""}; text you type now goes there`)
  }
  const c = ctx.client
  switch (input._tag) {
    case "Create":
      return attempt(
        input.room,
        c.createRoom(input.room, input.visibility, input.topic),
        (r) => switched(r, `created the ${r.visibility} room`)
      )
    case "Join":
      return attempt(input.room, c.join(input.room), (r) => switched(r, "joined"))
    case "Part": {
      const room = input.room ?? here
      return attempt(room, c.part(room), () => {
        ctx.rooms.remove(room)
        ctx.info(`you left ${room}`)
      })
    }
    case "Switch": {
      if (!ctx.rooms.switchTo(input.room)) return Effect.sync(() => ctx.fail(`you are not in ${input.room}: /join it`))
      return Effect.sync(() => ctx.info(`now in ${ctx.rooms.current}`))
    }
    case "Rooms":
      return attempt(
        undefined,
        c.rooms,
        (list) => ctx.info(`rooms (${list.length}):\n${list.map((r) => describeRoom(ctx.style, r, here)).join("\n")}`)
      )
    case "Members": {
      const room = input.room ?? here
      return attempt(room, c.members(room), (page) =>
        ctx.info(
          `${page.room}: ${page.total} member${page.total === 1 ? "" : "s"}\n` +
            page.members.map((m) => describeMember(ctx.style, m)).join("\n")
        ))
    }
    // the server sends a room's events to everyone but the connection that acted: it gets OK, said here
    case "Topic":
      return attempt(here, c.setTopic(here, input.topic), () => ctx.info(`topic of ${here} set`))
    case "Invite":
      return attempt(here, c.invite(here, input.user), () => ctx.info(`invited ${input.user} to ${here}`))
    case "Kick":
      return attempt(
        here,
        c.kick(here, input.user, input.reason),
        () => ctx.info(`kicked ${input.user} from ${here}${because(input.reason)}`)
      )
    case "Ban":
      return attempt(
        here,
        c.ban(here, input.user, input),
        () => ctx.info(`banned ${input.user} from ${here}${lasting(input.durationS)}${because(input.reason)}`)
      )
    case "Unban":
      return attempt(here, c.unban(here, input.user), () => ctx.info(`${input.user} may come back to ${here}`))
    case "Mute":
      return attempt(
        here,
        c.mute(here, input.user, input),
        () => ctx.info(`muted ${input.user} in ${here}${lasting(input.durationS)}${because(input.reason)}`)
      )
    case "Unmute":
      return attempt(here, c.unmute(here, input.user), () => ctx.info(`${input.user} may speak in ${here} again`))
    case "Role":
      return attempt(
        here,
        c.setRole(here, input.user, input.role),
        () => ctx.info(`${input.user} is now ${input.role} of ${here}`)
      )
    case "Edit": {
      const id = ctx.lastBy.get(key(here, ctx.me))
      if (id === undefined) return Effect.sync(() => ctx.fail(`you have said nothing in ${here} to edit`))
      return attempt(here, c.edit(id, input.text), () => ctx.info(`message #${id} edited`))
    }
    case "Delete": {
      const id = input.messageId ?? ctx.lastBy.get(key(here, input.user ?? ctx.me))
      if (id === undefined) {
        return Effect.sync(() =>
          ctx.fail(`no message of ${input.user ?? "yours"} in ${here} to delete: give its number (/delete 41)`)
        )
      }
      return attempt(here, c.deleteMessage(id), () => ctx.info(`message #${id} deleted`))
    }
  }
}
