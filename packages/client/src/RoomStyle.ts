/**
 * How room events look in a terminal: one readable line each ("— bob was
 * muted by alice for 10 min: not now"), "you" where it is about you, the room
 * named when it is not the one shown, moderation in yellow when colour is on.
 * Names, reasons and topics come from the network and are sanitized.
 */
import type { RoomEvent } from "./Frames.ts"
import { sanitize, type Style } from "./Style.ts"

const same = (a: string, b: string | undefined) => b !== undefined && a.toLowerCase() === b.toLowerCase()

/** A span of time as people say it: `45 s`, `10 min`, `2 h`, `3 days`. */
export const humanDuration = (ms: number): string => {
  const s = Math.max(1, Math.round(ms / 1000))
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.round(s / 60)} min`
  if (s < 86_400) return `${Math.round(s / 3600)} h`
  const days = Math.round(s / 86_400)
  return days === 1 ? "1 day" : `${days} days`
}

const oneLine = (s: string) => sanitize(s).replace(/\n/g, " ")

/** ` for 10 min` until `expiresAt`, or nothing when it lasts until lifted. */
const lasting = (expiresAt: string | null, now: Date) => {
  if (expiresAt === null) return ""
  const t = Date.parse(expiresAt)
  return Number.isNaN(t) ? "" : ` for ${humanDuration(t - now.getTime())}`
}

const because = (reason: string | null) => (reason === null || reason === "" ? "" : `: ${oneLine(reason)}`)

type MemberEvent = Extract<RoomEvent, { readonly type: "MEMBER" }>

/** A membership change, without the room; `who(name)` is "you" for you. */
const describeMember = (event: MemberEvent, who: (name: string) => string, now: Date): string => {
  const user = who(event.user)
  const was = user === "you" ? "were" : "was"
  switch (event.event) {
    case "joined":
      return `${user} joined`
    case "left":
      return `${user} left`
    case "kicked":
      return `${user} ${was} kicked by ${who(event.by)}${because(event.reason)}`
    case "banned":
    case "muted":
      return `${user} ${was} ${event.event} by ${who(event.by)}${lasting(event.expires_at, now)}${
        because(event.reason)
      }`
    case "unbanned":
    case "unmuted":
      return `${user} ${was} ${event.event} by ${who(event.by)}`
    case "role":
      return `${who(event.by)} made ${user} ${event.role === "member" ? "a member" : event.role}`
  }
}

/** What happened, without the room. */
const describe = (event: RoomEvent, who: (name: string) => string, now: Date): string => {
  switch (event.type) {
    case "MEMBER":
      return describeMember(event, who, now)
    case "TOPIC":
      return event.topic === ""
        ? `${who(event.by)} cleared the topic`
        : `${who(event.by)} set the topic: ${oneLine(event.topic)}`
    case "EDITED":
      return `message #${event.message_id} was edited: ${oneLine(event.text)}`
    case "DELETED":
      return `message #${event.message_id} was deleted by ${who(event.by)}`
    case "ROOM_DELETED":
      return `the room ${event.room} was deleted by ${who(event.by)}`
    case "INVITED":
      return `${who(event.by)} invited you to ${event.room}: /join ${event.room}`
  }
}

/** Events a person should notice: moderation, and what concerns their own standing. */
const isModeration = (event: RoomEvent) =>
  (event.type === "MEMBER" && ["kicked", "banned", "muted"].includes(event.event)) ||
  event.type === "ROOM_DELETED"

/** The `[room] ` put before a line from a room other than the one shown. */
export const roomTag = (style: Style, room: string | null | undefined, current: string): string =>
  room === null || room === undefined || same(room, current) ? "" : style.cyan(`[${room}] `)

/** One room event as one line. */
export const formatRoomEvent = (
  style: Style,
  event: RoomEvent,
  context: { readonly me: string | undefined; readonly current: string; readonly now?: Date | undefined }
): string => {
  const who = (name: string) => (same(name, context.me) ? "you" : name)
  const text = `— ${describe(event, who, context.now ?? new Date())}`
  const tag = event.type === "INVITED" || event.type === "ROOM_DELETED"
    ? ""
    : roomTag(style, event.room, context.current)
  return tag +
    (isModeration(event) ? style.yellow(text) : event.type === "INVITED" ? style.green(text) : style.dim(text))
}
