/**
 * The interactive program: a prompt to type into, messages printed above it
 * as they arrive, a status line with the connection state, and the slash
 * commands. DMs shown to you are marked read; receipts for yours are shown.
 */
import type { Message } from "@parley/protocol"
import { Data, Deferred, Effect, Either, Exit, Queue, type Redacted, type Scope, Stream } from "effect"
import { ChatClient, type ChatEvent } from "./ChatClient.ts"
import type { RequestError } from "./ClientError.ts"
import type { TlsOptions } from "./Connection.ts"
import type { ConnectionState } from "./ConnectionState.ts"
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

/** Who and where. */
export interface ChatOptions {
  readonly host: string
  readonly port: number
  /** Speak TLS; undefined: plain TCP. */
  readonly tls?: TlsOptions | undefined
  readonly user: string
  readonly password: Redacted.Redacted<string>
  readonly register: boolean
}

/** The program ended because it could not go on; the message says why and what to do. */
export class ChatEnded extends Data.TaggedError("ChatEnded")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

const HELP = [
  "Type a message and press Enter to send it to everyone.",
  "  /msg <user> <text>   send a direct message",
  "  /who                 who is online",
  "  /history [user]      recent public messages, or your DMs with <user>",
  "  /sessions            where you are logged in (each session's number, address and start)",
  "  /revoke <n>|others   log out session <n>, or every session but this one (their tokens stop working)",
  "  /me <action>         say what you are doing (sent as \"* you <action>\")",
  "  /clear               clear the screen",
  "  /quit                leave (also Ctrl-D or Ctrl-C)",
  "  /help                this help",
  "  //text               send a message that starts with /",
  "Tab completes commands and the names of people online."
]

const COMMANDS = ["/msg", "/who", "/history", "/sessions", "/revoke", "/me", "/clear", "/quit", "/help"]

/** The status line for a state. */
export const statusLine = (
  state: ConnectionState,
  info: { readonly address: string; readonly user: string; readonly online: number; readonly unsent: number },
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
      return ` connected · ${who} · ${info.online} online${unsent} · /help `
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
}

const info = (v: View, s: string) => v.screen.print(v.style.dim(`-- ${s}`))
const warn = (v: View, s: string) => v.screen.print(v.style.yellow(`! ${s}`))
const fail = (v: View, s: string) => v.screen.print(v.style.red(`! ${s}`))

const render = (v: View) =>
  Effect.gen(function*() {
    const state = yield* v.client.state.get
    const online = (yield* v.client.online.get).length
    const unsent = yield* v.client.pending
    v.screen.status(statusLine(state, { address: v.address, user: v.me, online, unsent }, Date.now()))
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
  v.screen.print((day !== undefined ? day + "\n" : "") + formatMessage(v.style, message, v.me, now))
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
  }
}

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
    const queued = yield* Effect.either(v.client.enqueue(text, to))
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
    const page = yield* Effect.either(v.client.history({ with: withUser, limit: 20 }))
    if (Either.isLeft(page)) {
      const e = page.left
      return e._tag === "RequestRejected" && e.code === "UNKNOWN_USER"
        ? fail(v, `no user named "${withUser}"`)
        : notNow(v, e)
    }
    const count = page.right.messages.length
    const noun = (plural: boolean) =>
      `${withUser === undefined ? "public " : ""}message${plural ? "s" : ""}${
        withUser === undefined ? "" : ` between you and ${withUser}`
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
      return usage(`unknown command ${name}: type /help for the list`)
  }
}

/** A line typed: a message, or a command; false ends the chat. */
const handle = (v: View, line: string): Effect.Effect<boolean, never, Scope.Scope> => {
  const text = line.trim()
  if (text === "") return Effect.succeed(true)
  if (text.startsWith("//")) return Effect.as(send(v, line.trimEnd().replace(/^\s*\//, ""), undefined), true)
  if (!text.startsWith("/")) return Effect.as(send(v, line, undefined), true)
  return command(v, text)
}

/** Runs the chat until /quit, Ctrl-D or Ctrl-C; fails with `ChatEnded` when the login is refused. */
export const runChat = (options: ChatOptions) =>
  Effect.scoped(Effect.gen(function*() {
    const style = makeStyle(colorWanted(process.stdout))
    const client = yield* ChatClient.make({
      host: options.host,
      port: options.port,
      tls: options.tls,
      username: options.user,
      password: options.password,
      register: options.register,
      backlog: 20
    })
    const events = yield* client.subscribe
    // Tab completes a command at the start of the line, else the name of someone online
    const onlineNow: { names: ReadonlyArray<string> } = { names: [] }
    yield* client.online.changes.pipe(
      Stream.runForEach((names) => Effect.sync(() => (onlineNow.names = names))),
      Effect.forkScoped
    )
    const screen = yield* Screen.open(style, undefined, undefined, undefined, (line) =>
      /^\/\S*$/.test(line) ? COMMANDS : onlineNow.names)
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
      unacked: new Set()
    }

    info(v, "Parley: type a message and press Enter; /help lists the commands.")
    yield* render(v)
    yield* followState(v)
    yield* client.online.changes.pipe(
      Stream.runForEach(() =>
        render(v)
      ),
      Effect.forkScoped
    )
    // the reconnect countdown and the unsent count move without a state change
    yield* render(v).pipe(Effect.delay("500 millis"), Effect.forever, Effect.forkScoped)
    yield* markShownDmsRead(v)
    yield* Queue.take(events).pipe(
      Effect.map((event) =>
        showEvent(v, event)
      ),
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
