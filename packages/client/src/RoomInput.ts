/**
 * The room slash commands of the terminal program, parsed: what a line like
 * `/ban bob 2h spamming` asks for, or the one-line usage hint when it is not
 * enough. Pure, so every command's parsing is tested without a terminal.
 */
import { Data, Either } from "effect"

/** A room command typed at the prompt. */
export type RoomInput = Data.TaggedEnum<{
  Create: { readonly room: string; readonly visibility: "public" | "private"; readonly topic: string | undefined }
  Join: { readonly room: string }
  Part: { readonly room: string | undefined }
  Rooms: {}
  Members: { readonly room: string | undefined }
  Topic: { readonly topic: string }
  Invite: { readonly user: string }
  Kick: { readonly user: string; readonly reason: string | undefined }
  Ban: { readonly user: string; readonly durationS: number | undefined; readonly reason: string | undefined }
  Unban: { readonly user: string }
  Mute: { readonly user: string; readonly durationS: number | undefined; readonly reason: string | undefined }
  Unmute: { readonly user: string }
  Role: { readonly user: string; readonly role: "moderator" | "member" }
  Edit: { readonly text: string }
  /** `messageId` or `user` (their last message here); neither: your own last message here. */
  Delete: { readonly messageId: number | undefined; readonly user: string | undefined }
  Switch: { readonly room: string }
}>
export const RoomInput = Data.taggedEnum<RoomInput>()

/** The usage hint of each room command, as `/help` lists them. */
export const ROOM_HELP: ReadonlyArray<readonly [command: string, usage: string, what: string]> = [
  ["/create", "/create <room> [public|private] [topic]", "create a room (public unless you say private)"],
  ["/join", "/join <room>", "join a room and switch to it"],
  ["/part", "/part [room]", "leave the current room (or <room>)"],
  ["/switch", "/switch <room>", "show and write to another of your rooms (also Ctrl-N / Ctrl-P)"],
  ["/rooms", "/rooms", "the public rooms and yours"],
  ["/members", "/members [room]", "who is in the current room (or <room>)"],
  ["/topic", "/topic <text>", "set the current room's topic"],
  ["/invite", "/invite <user>", "invite someone to the current room"],
  ["/kick", "/kick <user> [reason]", "remove someone from the current room"],
  ["/ban", "/ban <user> [duration] [reason]", "keep someone out (duration like 10m, 2h, 1d; none: until /unban)"],
  ["/unban", "/unban <user>", "lift a ban"],
  ["/mute", "/mute <user> [duration] [reason]", "someone may read but not write (until /unmute)"],
  ["/unmute", "/unmute <user>", "lift a mute"],
  ["/op", "/op <user>", "make someone a moderator of the current room"],
  ["/deop", "/deop <user>", "make a moderator a plain member again"],
  ["/edit", "/edit <text>", "replace your last message in the current room"],
  ["/delete", "/delete [message number|user]", "delete your last message here (or that one, or <user>'s last)"]
]

const usageOf = new Map(ROOM_HELP.map(([command, usage]) => [command, `usage: ${usage}`]))

/** The room commands' names, for Tab completion. */
export const ROOM_COMMANDS: ReadonlyArray<string> = ROOM_HELP.map(([command]) => command)

const UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }

/** The longest ban or mute the protocol allows: a year. */
export const MAX_DURATION_S = 31_536_000

/**
 * A duration like `90s`, `10m`, `2h`, `1d` or `1w` in seconds; undefined when the word is not
 * one. Out of range (0, or over a year) is a `Left` with the reason.
 */
export const parseDuration = (word: string): Either.Either<number, string> | undefined => {
  const match = /^(\d{1,9})([smhdw])$/i.exec(word)
  if (match === null) return undefined
  const seconds = Number(match[1]) * UNITS[match[2]!.toLowerCase()]!
  return seconds >= 1 && seconds <= MAX_DURATION_S
    ? Either.right(seconds)
    : Either.left(`a duration must be from 1s to a year (365d), not ${word}`)
}

/** `<user> [duration] [reason]` of /ban and /mute. */
const sanction = (
  name: string,
  rest: string,
  make: (user: string, durationS: number | undefined, reason: string | undefined) => RoomInput
): Either.Either<RoomInput, string> => {
  const match = /^(\S+)(?:\s+(\S+))?(?:\s+([\s\S]+))?$/.exec(rest)
  if (match === null) return Either.left(usageOf.get(name)!)
  const [, user, second, third] = match
  const duration = second === undefined ? undefined : parseDuration(second)
  if (duration !== undefined && Either.isLeft(duration)) return Either.left(duration.left)
  const reason = duration === undefined
    ? [second, third].filter((s) => s !== undefined).join(" ")
    : third
  return Either.right(make(user!, duration?.right, reason === "" ? undefined : reason))
}

const word = (rest: string) => (/^\S+$/.test(rest) ? rest : undefined)

/** One argument, required. */
const one = (name: string, rest: string, make: (value: string) => RoomInput) => {
  const value = word(rest)
  return value === undefined ? Either.left(usageOf.get(name)!) : Either.right(make(value))
}

const create = (rest: string): Either.Either<RoomInput, string> => {
  const match = /^(\S+)(?:\s+(public|private)\b)?(?:\s+([\s\S]+))?$/i.exec(rest)
  if (match === null) return Either.left(usageOf.get("/create")!)
  const visibility = match[2]?.toLowerCase() === "private" ? "private" : "public"
  return Either.right(RoomInput.Create({ room: match[1]!, visibility, topic: match[3] }))
}

const remove = (rest: string): Either.Either<RoomInput, string> => {
  if (rest === "") return Either.right(RoomInput.Delete({ messageId: undefined, user: undefined }))
  const target = word(rest)
  if (target === undefined) return Either.left(usageOf.get("/delete")!)
  const id = /^#?(\d{1,15})$/.exec(target)
  return Either.right(
    id !== null
      ? RoomInput.Delete({ messageId: Number(id[1]), user: undefined })
      : RoomInput.Delete({ messageId: undefined, user: target })
  )
}

const parsers: Readonly<Record<string, (rest: string) => Either.Either<RoomInput, string>>> = {
  "/create": create,
  "/join": (rest) => one("/join", rest, (room) => RoomInput.Join({ room })),
  "/part": (rest) =>
    rest === ""
      ? Either.right(RoomInput.Part({ room: undefined }))
      : one("/part", rest, (room) => RoomInput.Part({ room })),
  "/switch": (rest) => one("/switch", rest, (room) => RoomInput.Switch({ room })),
  "/rooms": () => Either.right(RoomInput.Rooms()),
  "/members": (rest) =>
    rest === ""
      ? Either.right(RoomInput.Members({ room: undefined }))
      : one("/members", rest, (room) => RoomInput.Members({ room })),
  "/topic": (rest) =>
    rest === "" ? Either.left(usageOf.get("/topic")!) : Either.right(RoomInput.Topic({ topic: rest })),
  "/invite": (rest) => one("/invite", rest, (user) => RoomInput.Invite({ user })),
  "/kick": (rest) => {
    const match = /^(\S+)(?:\s+([\s\S]+))?$/.exec(rest)
    return match === null
      ? Either.left(usageOf.get("/kick")!)
      : Either.right(RoomInput.Kick({ user: match[1]!, reason: match[2] }))
  },
  "/ban": (rest) => sanction("/ban", rest, (user, durationS, reason) => RoomInput.Ban({ user, durationS, reason })),
  "/unban": (rest) => one("/unban", rest, (user) => RoomInput.Unban({ user })),
  "/mute": (rest) => sanction("/mute", rest, (user, durationS, reason) => RoomInput.Mute({ user, durationS, reason })),
  "/unmute": (rest) => one("/unmute", rest, (user) => RoomInput.Unmute({ user })),
  "/op": (rest) => one("/op", rest, (user) => RoomInput.Role({ user, role: "moderator" })),
  "/deop": (rest) => one("/deop", rest, (user) => RoomInput.Role({ user, role: "member" })),
  "/edit": (rest) => (rest === "" ? Either.left(usageOf.get("/edit")!) : Either.right(RoomInput.Edit({ text: rest }))),
  "/delete": remove
}

/**
 * A typed line as a room command: `Right` with the command, `Left` with a one-line usage hint,
 * or undefined when it is not a room command at all.
 */
export const parseRoomInput = (line: string): Either.Either<RoomInput, string> | undefined => {
  const match = /^(\/\S+)\s*([\s\S]*)$/.exec(line.trim())
  if (match === null) return undefined
  const parse = parsers[match[1]!.toLowerCase()]
  return parse === undefined ? undefined : parse(match[2]!.trim())
}
