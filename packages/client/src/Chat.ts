/**
 * The interactive program: a prompt to type into, messages printed above it
 * as they arrive, a status line with the connection state, and the slash
 * commands. DMs shown to you are marked read; receipts for yours are shown.
 */
import { GENERAL_ROOM } from "@parley/protocol"
import { Data, Deferred, Effect, Either, Exit, Queue, type Redacted, Runtime, type Scope, Stream } from "effect"
import { ChatClient, type ChatEvent, type Destination } from "./ChatClient.ts"
import { describeRoomError, noteEvent, noteMessage, type RoomContext, roomOf, runRoomInput } from "./ChatRooms.ts"
import type { RequestError } from "./ClientError.ts"
import type { ConnectionState } from "./ConnectionState.ts"
import type { RoomMessage as Message } from "./Frames.ts"
import { parseRoomInput, ROOM_COMMANDS, ROOM_HELP } from "./RoomInput.ts"
import { formatRoomEvent, roomTag } from "./RoomStyle.ts"
import { RoomTabs } from "./RoomTabs.ts"
import * as Screen from "./Screen.ts"
import {
  colorWanted,
  daySeparator,
  formatMessage,
  formatPending,
  formatPresence,
  formatReceipt,
  isDmTo,
  localTime,
  makeStyle,
  sanitize,
  type Style
} from "./Style.ts"
import * as TcpTransport from "./TcpTransport.ts"
import type { TlsOptions } from "./TcpTransport.ts"

/** Who and where. */
export interface ChatOptions {
  readonly host: string
  readonly port: number
  /** Speak TLS; undefined: plain TCP. */
  readonly tls?: TlsOptions | undefined
  readonly user: string
  readonly password: Redacted.Redacted<string>
  readonly register: boolean
  /** Opt in to rooms (protocol v1.2; default on): room messages and events, the room commands. */
  readonly rooms?: boolean | undefined
}

/** The program ended because it could not go on; the message says why and what to do. */
export class ChatEnded extends Data.TaggedError("ChatEnded")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

const HELP = [
  "Type a message and press Enter to send it to the current room (general: everyone).",
  "  /msg <user> <text>   send a direct message",
  "  /who                 who is online",
  "  /history [user]      recent messages of the current room, or your DMs with <user>",
  "  /sessions            where you are logged in (each session's number, address and start)",
  "  /revoke <n>|others   log out session <n>, or every session but this one (their tokens stop working)",
  "  /me <action>         say what you are doing (sent as \"* you <action>\")",
  "  /clear               clear the screen",
  "  /quit                leave (also Ctrl-D or Ctrl-C)",
  "  /help                this help",
  "  //text               send a message that starts with /",
  "Rooms (the status line shows the current one, and unread counts of the others):",
  ...ROOM_HELP.map(([, usage, what]) => `  ${usage.padEnd(36)} ${what}`),
  "Tab completes commands, the names of people online, and your rooms after /switch, /part, /members."
]

const COMMANDS = [
  "/msg",
  "/who",
  "/history",
  "/sessions",
  "/revoke",
  "/me",
  "/clear",
  "/quit",
  "/help",
  ...ROOM_COMMANDS
]

/** What Tab offers: commands at the start of the line, your rooms after a room command, else people online. */
export const completions = (
  line: string,
  online: ReadonlyArray<string>,
  rooms: ReadonlyArray<string>
): ReadonlyArray<string> =>
  /^\/\S*$/.test(line) ? COMMANDS : /^\/(switch|part|members|join)\s+\S*$/i.test(line) ? rooms : online

/** The status line for a state. */
export const statusLine = (
  state: ConnectionState,
  info: {
    readonly address: string
    readonly user: string
    readonly online: number
    readonly unsent: number
    /** The current room and the others' unread counts, when rooms are on. */
    readonly rooms?: string | undefined
  },
  now: number
): string => {
  const who = `${info.user} @ ${info.address}`
  const unsent = info.unsent > 0 ? ` · ${info.unsent} unsent` : ""
  switch (state._tag) {
    case "Disconnected":
      return ` disconnected · ${who}${state.reason !== undefined ? ` · ${state.reason}` : ""} `
    case "Connecting":
      return ` connecting${state.attempt > 1 ? ` (attempt ${state.attempt})` : ""}… · ${who}${unsent} `
    case "Authenticating":
      return ` logging in… · ${who}${unsent} `
    case "Connected":
      return ` connected · ${who}${
        info.rooms !== undefined ? ` · ${info.rooms}` : ""
      } · ${info.online} online${unsent} · /help `
    case "Reconnecting": {
      const seconds = Math.max(0, Math.ceil((state.retryAt - now) / 1000))
      return ` reconnecting in ${seconds}s · ${who}${unsent} · ${state.error} `
    }
    case "Disconnecting":
      return ` disconnecting… · ${who} `
  }
}

/** What the parts of the running chat share: the client, the screen, and what it has shown. */
interface View {
  readonly client: ChatClient.Service
  readonly screen: Screen.Screen
  readonly style: Style
  readonly address: string
  /** Ends the chat: /quit, Ctrl-D, Ctrl-C, or (failed) a login refused for good. */
  readonly done: Deferred.Deferred<void, ChatEnded>
  /** Our name as the server spells it, once logged in. */
  me: string
  /** Our DMs by message_id, so a receipt can quote the one read. */
  readonly myDms: Map<number, string>
  /** Per sender (lower case), the newest DM to us not yet marked read. */
  readonly toMark: Map<string, number>
  /** The timestamp of the last message shown, for day separators. */
  lastShown: string | undefined
  /** What was said but not yet acknowledged, shown above the status line until its ACK or failure. */
  readonly unacked: Set<{ readonly text: string; readonly to: string | null }>
  /** Your rooms and the current one; undefined when rooms are off. */
  readonly rooms: RoomTabs | undefined
  /** The newest message id per room and sender, for /edit and /delete. */
  readonly lastBy: Map<string, number>
}

const info = (v: View, s: string) => v.screen.print(v.style.dim(`-- ${s}`))
const warn = (v: View, s: string) => v.screen.print(v.style.yellow(`! ${s}`))
const fail = (v: View, s: string) => v.screen.print(v.style.red(`! ${s}`))

const render = (v: View) =>
  Effect.gen(function*() {
    const state = yield* v.client.state.get
    const online = (yield* v.client.online.get).length
    const unsent = yield* v.client.pending
    v.screen.status(
      statusLine(state, {
        address: v.address,
        user: v.me,
        online,
        unsent,
        rooms: v.rooms?.listed === true ? v.rooms.summary() : undefined
      }, Date.now())
    )
  })

/** The status line follows the state, with a line printed for the moments a person should notice. */
const followState = (v: View) => {
  let previous: ConnectionState["_tag"] = "Disconnected"
  let everConnected = false
  return v.client.state.changes.pipe(
    Stream.runForEach((state) =>
      Effect.gen(function*() {
        if (state._tag === "Connected") {
          v.me = state.user
          if (everConnected) {
            info(v, `reconnected (${state.via === "token" ? "with the session token" : "with the password"})`)
          }
          everConnected = true
        }
        if (state._tag === "Reconnecting" && previous === "Connected") {
          warn(v, `connection lost: ${state.error}`)
        }
        if (state._tag === "Disconnected" && state.reason !== undefined) {
          yield* Deferred.fail(v.done, new ChatEnded({ reason: state.reason }))
        }
        previous = state._tag
        yield* render(v)
      })
    ),
    Effect.forkScoped
  )
}

/** DMs shown to you are marked read, one READ per sender per half second at most. */
const markShownDmsRead = (v: View) =>
  Effect.gen(function*() {
    for (const [sender, id] of Array.from(v.toMark)) {
      const result = yield* Effect.either(v.client.markRead(id))
      if (Either.isRight(result) || result.left._tag === "RequestRejected") {
        if (v.toMark.get(sender) === id) v.toMark.delete(sender)
      }
    }
  }).pipe(Effect.delay("500 millis"), Effect.forever, Effect.forkScoped)

const showMessage = (v: View, message: Message) => {
  const now = new Date()
  const day = daySeparator(v.style, v.lastShown, message.timestamp, now)
  v.lastShown = message.timestamp
  const tag = v.rooms === undefined ? "" : roomTag(v.style, roomOf(message), v.rooms.current)
  v.screen.print((day !== undefined ? day + "\n" : "") + tag + formatMessage(v.style, message, v.me, now))
  const ctx = roomContext(v)
  if (ctx !== undefined) noteMessage(ctx, message)
  const me = v.me.toLowerCase()
  const from = message.from.toLowerCase()
  if (message.to !== null && from === me) v.myDms.set(message.message_id, message.text)
  if (isDmTo(message, v.me) && from !== me) v.toMark.set(from, Math.max(message.message_id, v.toMark.get(from) ?? 0))
}

const showEvent = (v: View, event: ChatEvent) => {
  switch (event.type) {
    case "MESSAGE":
      return showMessage(v, event)
    case "PRESENCE":
      return v.screen.print(formatPresence(v.style, event))
    case "RECEIPT":
      return v.screen.print(formatReceipt(v.style, event, v.myDms.get(event.message_id)))
    case "BYE":
      // the "connection lost" line that follows gives the reason
      return
    default: {
      const ctx = roomContext(v)
      if (ctx === undefined) return
      v.screen.print(formatRoomEvent(v.style, event, { me: v.me, current: ctx.rooms.current }))
      return noteEvent(ctx, event)
    }
  }
}

/** The room commands' view of the chat; undefined when rooms are off. */
const roomContext = (v: View): RoomContext | undefined => {
  const rooms = v.rooms
  if (rooms === undefined) return undefined
  return {
    client: v.client,
    style: v.style,
    rooms,
    get me() {
      return v.me
    },
    lastBy: v.lastBy,
    info: (s) => info(v, s),
    fail: (s) => fail(v, s)
  }
}

/** Plain text goes to the current room; `general` is sent as in version 1 (no `room`). */
const here = (v: View): Destination =>
  v.rooms === undefined || v.rooms.isCurrent(GENERAL_ROOM) ? null : { room: v.rooms.current }

/** Starts the connection; the first login says who else is here, a refused one ends the chat. */
const connect = (v: View) =>
  v.client.connect.pipe(
    Effect.tap((connected) =>
      Effect.sync(() => {
        const others = connected.online.filter((n) => n.toLowerCase() !== connected.user.toLowerCase())
        info(
          v,
          `connected as ${connected.user}; ${
            others.length === 0 ? "nobody else is online" : `online: ${others.join(", ")}`
          }` +
            (connected.unread > 0 ? `; ${connected.unread} unread direct message(s) follow` : "")
        )
      })
    ),
    Effect.catchAll((error) => Deferred.fail(v.done, new ChatEnded({ reason: error.message }))),
    Effect.forkScoped
  )

const showUnacked = (v: View) => v.screen.pending(Array.from(v.unacked, (u) => formatPending(v.style, u.text, u.to)))

const send = (v: View, text: string, to: string | undefined) =>
  Effect.gen(function*() {
    const queued = yield* Effect.either(v.client.enqueue(text, to ?? here(v)))
    if (Either.isLeft(queued)) return fail(v, queued.left.message)
    const said = { text, to: to ?? null }
    v.unacked.add(said)
    showUnacked(v)
    if ((yield* v.client.state.get)._tag !== "Connected") {
      info(v, "not connected: it will be sent when the connection is back")
    }
    yield* queued.right.pipe(
      Effect.ensuring(Effect.sync(() => {
        v.unacked.delete(said)
        showUnacked(v)
      })),
      Effect.catchAll((error) =>
        Effect.sync(() =>
          fail(
            v,
            `not delivered${to !== undefined ? ` to ${to}` : ""}: ${
              error._tag === "RequestRejected" && error.code === "UNKNOWN_USER"
                ? `no user named "${to}"`
                : error.message
            }`
          )
        )
      ),
      Effect.zipRight(render(v)),
      Effect.forkScoped
    )
  })

const notNow = (v: View, error: RequestError) =>
  fail(
    v,
    error._tag === "NotConnected"
      ? "not connected right now: try again once the status line says connected"
      : error.message
  )

const printHistory = (v: View, withUser: string | undefined) =>
  Effect.gen(function*() {
    // without a user: the current room's (general's as in version 1, with no `room`)
    const room = withUser === undefined && v.rooms !== undefined && !v.rooms.isCurrent(GENERAL_ROOM)
      ? v.rooms.current
      : undefined
    const page = yield* Effect.either(v.client.history({ with: withUser, room, limit: 20 }))
    if (Either.isLeft(page)) {
      const e = page.left
      return e._tag === "RequestRejected" && e.code === "UNKNOWN_USER"
        ? fail(v, `no user named "${withUser}"`)
        : e._tag === "RoomRejected"
        ? fail(v, describeRoomError(e, room))
        : notNow(v, e)
    }
    const count = page.right.messages.length
    const noun = (plural: boolean) =>
      `${withUser === undefined && room === undefined ? "public " : ""}message${plural ? "s" : ""}${
        withUser !== undefined ? ` between you and ${withUser}` : room !== undefined ? ` in ${room}` : ""
      }`
    if (count === 0) return info(v, `no ${noun(true)} yet`)
    const now = new Date()
    v.screen.print(
      [
        v.style.dim(count === 1 ? `── the last ${noun(false)} ──` : `── last ${count} ${noun(true)} ──`),
        ...page.right.messages.flatMap((m: Message, i, all) => {
          const day = daySeparator(v.style, all[i - 1]?.timestamp, m.timestamp, now)
          const line = formatMessage(v.style, m, v.me, now)
          return day !== undefined ? [day, line] : [line]
        }),
        v.style.dim("──")
      ].join("\n")
    )
  })

const who = (v: View) =>
  Effect.gen(function*() {
    const users = yield* Effect.either(v.client.users)
    if (Either.isLeft(users)) {
      return fail(v, users.left._tag === "NotConnected" ? "not connected right now" : users.left.message)
    }
    info(v, `online (${users.right.length}): ${[...users.right].sort().join(", ")}`)
  })

const listSessions = (v: View) =>
  Effect.gen(function*() {
    const sessions = yield* Effect.either(v.client.sessions)
    if (Either.isLeft(sessions)) return notNow(v, sessions.left)
    v.screen.print(
      [
        v.style.dim(`── your sessions (${sessions.right.length}) ──`),
        ...sessions.right.map((s) =>
          `  ${String(s.session_id).padStart(6)}  ${sanitize(s.ip_address).padEnd(20)} since ${
            localTime(s.connect_time)
          }` +
          (s.current ? v.style.dim("  (this one)") : "")
        ),
        v.style.dim("── /revoke <number> logs one out; /revoke others all but this one ──")
      ].join("\n")
    )
  })

const revoke = (v: View, which: string | undefined) =>
  Effect.gen(function*() {
    const target = which === "others"
      ? "all_others" as const
      : which !== undefined && /^\d{1,15}$/.test(which)
      ? Number(which)
      : undefined
    if (target === undefined) return fail(v, "usage: /revoke <session number> (see /sessions), or /revoke others")
    const done = yield* Effect.either(v.client.revoke(target))
    if (Either.isLeft(done)) {
      const e = done.left
      return e._tag === "RequestRejected" && e.code === "NOT_FOUND"
        ? fail(v, `no open session ${which} of yours: /sessions lists them`)
        : notNow(v, e)
    }
    info(v, target === "all_others" ? "every other session is logged out" : `session ${target} is logged out`)
  })

/** A slash command; false ends the chat. */
const command = (v: View, text: string): Effect.Effect<boolean, never, Scope.Scope> => {
  const [name = "", ...rest] = text.split(/\s+/)
  const usage = (s: string) => Effect.sync(() => fail(v, s)).pipe(Effect.as(true))
  switch (name.toLowerCase()) {
    case "/quit":
    case "/exit":
      return Effect.succeed(false)
    case "/help":
      return Effect.sync(() => v.screen.print(v.style.dim(HELP.join("\n")))).pipe(Effect.as(true))
    case "/who":
      return Effect.as(who(v), true)
    case "/history":
      return Effect.as(printHistory(v, rest[0]), true)
    case "/sessions":
      return Effect.as(listSessions(v), true)
    case "/clear":
      return Effect.sync(() => v.screen.clear()).pipe(Effect.as(true))
    case "/me": {
      const action = /^\/me\s+([\s\S]+)$/i.exec(text)
      return action === null
        ? usage("usage: /me <action>, e.g. /me waves")
        : Effect.as(send(v, `* ${v.me} ${action[1]!}`, undefined), true)
    }
    case "/revoke":
      return Effect.as(revoke(v, rest[0]?.toLowerCase()), true)
    case "/msg": {
      const match = /^\/msg\s+(\S+)\s+([\s\S]+)$/i.exec(text)
      return match === null ? usage("usage: /msg <user> <text>") : Effect.as(send(v, match[2]!, match[1]!), true)
    }
    default:
      return roomCommand(v, text, name)
  }
}

/** A room command, or the usage hint; unknown commands are named as such. */
const roomCommand = (v: View, text: string, name: string): Effect.Effect<boolean> => {
  const parsed = parseRoomInput(text)
  const ctx = roomContext(v)
  if (parsed === undefined) {
    return Effect.sync(() => fail(v, `unknown command ${name}: type /help for the list`)).pipe(Effect.as(true))
  }
  if (ctx === undefined) {
    return Effect.sync(() => fail(v, `${name}: rooms are off in this program`)).pipe(Effect.as(true))
  }
  if (Either.isLeft(parsed)) return Effect.sync(() => fail(v, parsed.left)).pipe(Effect.as(true))
  return runRoomInput(ctx, parsed.right).pipe(Effect.zipRight(render(v)), Effect.as(true))
}

/** A line typed: a message, or a command; false ends the chat. */
const handle = (v: View, line: string): Effect.Effect<boolean, never, Scope.Scope> => {
  const text = line.trim()
  if (text === "") return Effect.succeed(true)
  if (text.startsWith("//")) return Effect.as(send(v, line.trimEnd().replace(/^\s*\//, ""), undefined), true)
  if (!text.startsWith("/")) return Effect.as(send(v, line, undefined), true)
  return command(v, text)
}

/** Ctrl-N / Ctrl-P switch rooms; each login's list of your rooms (a v1 server lists none) resets the tabs. */
const followRooms = (v: View, onCycle: { run: Screen.Cycle }) =>
  Effect.gen(function*() {
    const rooms = v.rooms
    if (rooms === undefined) return
    const runtime = yield* Effect.runtime<never>()
    onCycle.run = (step) => {
      info(v, `now in ${rooms.cycle(step)}`)
      Runtime.runFork(runtime)(render(v))
    }
    yield* v.client.joinedRooms.changes.pipe(
      Stream.runForEach((list) =>
        list.length === 0 ? Effect.void : Effect.zipRight(Effect.sync(() => rooms.reset(list)), render(v))
      ),
      Effect.forkScoped
    )
  })

/** Runs the chat until /quit, Ctrl-D or Ctrl-C; fails with `ChatEnded` when the login is refused. */
export const runChat = (options: ChatOptions) =>
  Effect.scoped(Effect.gen(function*() {
    const style = makeStyle(colorWanted(process.stdout))
    const client = yield* ChatClient.make({
      transport: TcpTransport.make({ host: options.host, port: options.port, tls: options.tls }),
      username: options.user,
      password: options.password,
      register: options.register,
      backlog: 20,
      rooms: options.rooms ?? true
    })
    const events = yield* client.subscribe
    // Tab completes a command at the start of the line, else the name of someone online
    const onlineNow: { names: ReadonlyArray<string> } = { names: [] }
    yield* client.online.changes.pipe(
      Stream.runForEach((names) => Effect.sync(() => (onlineNow.names = names))),
      Effect.forkScoped
    )
    const rooms = options.rooms === false ? undefined : new RoomTabs()
    // set once the view exists; the screen needs it first
    const onCycle: { run: Screen.Cycle } = { run: () => {} }
    const screen = yield* Screen.open(
      style,
      undefined,
      undefined,
      undefined,
      (line) => completions(line, onlineNow.names, rooms?.names() ?? []),
      (step) => onCycle.run(step)
    )
    const v: View = {
      client,
      screen,
      style,
      address: `${options.host}:${options.port}`,
      done: yield* Deferred.make<void, ChatEnded>(),
      me: options.user,
      myDms: new Map(),
      toMark: new Map(),
      lastShown: undefined,
      unacked: new Set(),
      rooms,
      lastBy: new Map()
    }
    yield* followRooms(v, onCycle)

    info(v, "Parley: type a message and press Enter; /help lists the commands.")
    yield* render(v)
    yield* followState(v)
    yield* client.online.changes.pipe(
      Stream.runForEach(() => render(v)),
      Effect.forkScoped
    )
    // the reconnect countdown and the unsent count move without a state change
    yield* render(v).pipe(Effect.delay("500 millis"), Effect.forever, Effect.forkScoped)
    yield* markShownDmsRead(v)
    yield* Queue.take(events).pipe(
      Effect.flatMap((event) => Effect.zipRight(Effect.sync(() => showEvent(v, event)), render(v))),
      Effect.forever,
      Effect.forkScoped
    )
    yield* connect(v)

    yield* Effect.gen(function*() {
      while (true) {
        const line = yield* Queue.take(screen.lines)
        if (line === null || !(yield* handle(v, line))) return yield* Deferred.succeed(v.done, undefined)
      }
    }).pipe(Effect.forkScoped)

    const exit = yield* Effect.exit(Deferred.await(v.done))
    info(v, "bye")
    yield* client.disconnect.pipe(Effect.timeout("3 seconds"), Effect.ignore)
    // the last word on the status line is the state the program ends in, not one it raced past
    yield* render(v)
    if (Exit.isFailure(exit)) return yield* exit
  }))
