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
  sanitize
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

/** Runs the chat until /quit, Ctrl-D or Ctrl-C; fails with `ChatEnded` when the login is refused. */
export const runChat = (options: ChatOptions) =>
  Effect.scoped(Effect.gen(function*() {
    const style = makeStyle(colorWanted(process.stdout))
    const address = `${options.host}:${options.port}`
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
    const done = yield* Deferred.make<void, ChatEnded>()
    const info = (s: string) =>
      screen.print(style.dim(`-- ${s}`))
    const warn = (s: string) =>
      screen.print(style.yellow(`! ${s}`))
    const fail = (s: string) =>
      screen.print(style.red(`! ${s}`))

    let me = options.user
    const myDms = new Map<number, string>()
    const toMark = new Map<string, number>()

    const render = Effect.gen(function*() {
      const state = yield* client.state.get
      const online = (yield* client.online.get).length
      const unsent = yield* client.pending
      screen.status(statusLine(state, { address, user: me, online, unsent }, Date.now()))
    })

    info("Parley: type a message and press Enter; /help lists the commands.")
    yield* render

    // the state: status line, plus a line for the moments a person should notice
    let previous: ConnectionState["_tag"] = "Disconnected"
    let everConnected = false
    yield* client.state.changes.pipe(
      Stream.runForEach((state) =>
        Effect.gen(function*() {
          if (state._tag === "Connected") {
            me = state.user
            if (everConnected) {
              info(`reconnected (${state.via === "token" ? "with the session token" : "with the password"})`)
            }
            everConnected = true
          }
          if (state._tag === "Reconnecting" && previous === "Connected") {
            warn(`connection lost: ${state.error}`)
          }
          if (state._tag === "Disconnected" && state.reason !== undefined) {
            yield* Deferred.fail(done, new ChatEnded({ reason: state.reason }))
          }
          previous = state._tag
          yield* render
        })
      ),
      Effect.forkScoped
    )
    yield* client.online.changes.pipe(
      Stream.runForEach(() =>
        render
      ),
      Effect.forkScoped
    )
    // the reconnect countdown and the unsent count move without a state change
    yield* render.pipe(Effect.delay("500 millis"), Effect.forever, Effect.forkScoped)

    // DMs shown to you are marked read, one READ per sender per half second at most
    yield* Effect.gen(function*() {
      for (const [sender, id] of Array.from(toMark)) {
        const result = yield* Effect.either(client.markRead(id))
        if (Either.isRight(result) || result.left._tag === "RequestRejected") {
          if (toMark.get(sender) === id) toMark.delete(sender)
        }
      }
    }).pipe(Effect.delay("500 millis"), Effect.forever, Effect.forkScoped)

    let lastShown: string | undefined
    const show = (event: ChatEvent) => {
      switch (event.type) {
        case "MESSAGE": {
          const now = new Date()
          const day = daySeparator(style, lastShown, event.timestamp, now)
          lastShown = event.timestamp
          screen.print((day !== undefined ? day + "\n" : "") + formatMessage(style, event, me, now))
          if (event.to !== null && event.from.toLowerCase() === me.toLowerCase()) {
            myDms.set(event.message_id, event.text)
          }
          if (isDmTo(event, me) && event.from.toLowerCase() !== me.toLowerCase()) {
            toMark.set(event.from.toLowerCase(), Math.max(event.message_id, toMark.get(event.from.toLowerCase()) ?? 0))
          }
          return
        }
        case "PRESENCE":
          return screen.print(formatPresence(style, event))
        case "RECEIPT":
          return screen.print(formatReceipt(style, event, myDms.get(event.message_id)))
        case "BYE":
          // the "connection lost" line that follows gives the reason
          return
      }
    }
    yield* Queue.take(events).pipe(Effect.map(show), Effect.forever, Effect.forkScoped)

    yield* client.connect.pipe(
      Effect.tap((connected) =>
        Effect.sync(() => {
          const others = connected.online.filter((n) => n.toLowerCase() !== connected.user.toLowerCase())
          info(
            `connected as ${connected.user}; ${
              others.length === 0 ? "nobody else is online" : `online: ${others.join(", ")}`
            }` +
              (connected.unread > 0 ? `; ${connected.unread} unread direct message(s) follow` : "")
          )
        })
      ),
      Effect.catchAll((error) => Deferred.fail(done, new ChatEnded({ reason: error.message }))),
      Effect.forkScoped
    )

    // what was said but not yet acknowledged stays in sight, above the status line, until its ACK
    // (then it is printed as a message like any other) or its failure
    const unacked = new Set<{ readonly text: string; readonly to: string | null }>()
    const showUnacked = () => screen.pending(Array.from(unacked, (u) => formatPending(style, u.text, u.to)))

    const send = (text: string, to: string | undefined) =>
      Effect.gen(function*() {
        const queued = yield* Effect.either(client.enqueue(text, to))
        if (Either.isLeft(queued)) return fail(queued.left.message)
        const said = { text, to: to ?? null }
        unacked.add(said)
        showUnacked()
        if ((yield* client.state.get)._tag !== "Connected") {
          info("not connected: it will be sent when the connection is back")
        }
        yield* queued.right.pipe(
          Effect.ensuring(Effect.sync(() => {
            unacked.delete(said)
            showUnacked()
          })),
          Effect.catchAll((error) =>
            Effect.sync(() =>
              fail(
                `not delivered${to !== undefined ? ` to ${to}` : ""}: ${
                  error._tag === "RequestRejected" && error.code === "UNKNOWN_USER"
                    ? `no user named "${to}"`
                    : error.message
                }`
              )
            )
          ),
          Effect.zipRight(render),
          Effect.forkScoped
        )
      })

    const printHistory = (withUser: string | undefined) =>
      Effect.gen(function*() {
        const page = yield* Effect.either(client.history({ with: withUser, limit: 20 }))
        if (Either.isLeft(page)) {
          const e = page.left
          return fail(
            e._tag === "RequestRejected" && e.code === "UNKNOWN_USER"
              ? `no user named "${withUser}"`
              : e._tag === "NotConnected"
              ? "not connected right now: try again once the status line says connected"
              : e.message
          )
        }
        const count = page.right.messages.length
        const noun = (plural: boolean) =>
          `${withUser === undefined ? "public " : ""}message${plural ? "s" : ""}${
            withUser === undefined ? "" : ` between you and ${withUser}`
          }`
        if (count === 0) return info(`no ${noun(true)} yet`)
        const now = new Date()
        screen.print(
          [
            style.dim(count === 1 ? `── the last ${noun(false)} ──` : `── last ${count} ${noun(true)} ──`),
            ...page.right.messages.flatMap((m: Message, i, all) => {
              const day = daySeparator(style, all[i - 1]?.timestamp, m.timestamp, now)
              return day !== undefined ? [day, formatMessage(style, m, me, now)] : [formatMessage(style, m, me, now)]
            }),
            style.dim("──")
          ].join("\n")
        )
      })

    const who = Effect.gen(function*() {
      const users = yield* Effect.either(client.users)
      if (Either.isLeft(users)) {
        return fail(users.left._tag === "NotConnected" ? "not connected right now" : users.left.message)
      }
      info(`online (${users.right.length}): ${[...users.right].sort().join(", ")}`)
    })

    const notNow = (error: RequestError) =>
      fail(
        error._tag === "NotConnected"
          ? "not connected right now: try again once the status line says connected"
          : error.message
      )

    const listSessions = Effect.gen(function*() {
      const sessions = yield* Effect.either(client.sessions)
      if (Either.isLeft(sessions)) return notNow(sessions.left)
      screen.print(
        [
          style.dim(`── your sessions (${sessions.right.length}) ──`),
          ...sessions.right.map((s) =>
            `  ${String(s.session_id).padStart(6)}  ${sanitize(s.ip_address).padEnd(20)} since ${
              localTime(s.connect_time)
            }` +
            (s.current ? style.dim("  (this one)") : "")
          ),
          style.dim("── /revoke <number> logs one out; /revoke others all but this one ──")
        ].join("\n")
      )
    })

    const revoke = (which: string | undefined) =>
      Effect.gen(function*() {
        const target = which === "others"
          ? "all_others" as const
          : which !== undefined && /^\d{1,15}$/.test(which)
          ? Number(which)
          : undefined
        if (target === undefined) return fail("usage: /revoke <session number> (see /sessions), or /revoke others")
        const done = yield* Effect.either(client.revoke(target))
        if (Either.isLeft(done)) {
          const e = done.left
          return e._tag === "RequestRejected" && e.code === "NOT_FOUND"
            ? fail(`no open session ${which} of yours: /sessions lists them`)
            : notNow(e)
        }
        info(target === "all_others" ? "every other session is logged out" : `session ${target} is logged out`)
      })

    const handle = (line: string): Effect.Effect<boolean, never, Scope.Scope> => {
      const text = line.trim()
      if (text === "") return Effect.succeed(true)
      if (text.startsWith("//")) return Effect.as(send(line.trimEnd().replace(/^\s*\//, ""), undefined), true)
      if (!text.startsWith("/")) return Effect.as(send(line, undefined), true)
      const [command = "", ...rest] = text.split(/\s+/)
      switch (command.toLowerCase()) {
        case "/quit":
        case "/exit":
          return Effect.succeed(false)
        case "/help":
          screen.print(style.dim(HELP.join("\n")))
          return Effect.succeed(true)
        case "/who":
          return Effect.as(who, true)
        case "/history":
          return Effect.as(printHistory(rest[0]), true)
        case "/sessions":
          return Effect.as(listSessions, true)
        case "/clear":
          screen.clear()
          return Effect.succeed(true)
        case "/me": {
          const action = /^\/me\s+([\s\S]+)$/i.exec(text)
          if (action === null) {
            fail("usage: /me <action>, e.g. /me waves")
            return Effect.succeed(true)
          }
          return Effect.as(send(`* ${me} ${action[1]!}`, undefined), true)
        }
        case "/revoke":
          return Effect.as(revoke(rest[0]?.toLowerCase()), true)
        case "/msg": {
          const match = /^\/msg\s+(\S+)\s+([\s\S]+)$/i.exec(text)
          if (match === null) {
            fail("usage: /msg <user> <text>")
            return Effect.succeed(true)
          }
          return Effect.as(send(match[2]!, match[1]!), true)
        }
        default:
          fail(`unknown command ${command}: type /help for the list`)
          return Effect.succeed(true)
      }
    }

    yield* Effect.gen(function*() {
      while (true) {
        const line = yield* Queue.take(screen.lines)
        if (line === null || !(yield* handle(line))) return yield* Deferred.succeed(done, undefined)
      }
    }).pipe(Effect.forkScoped)

    const exit = yield* Effect.exit(Deferred.await(done))
    info("bye")
    yield* client.disconnect.pipe(Effect.timeout("3 seconds"), Effect.ignore)
    // the last word on the status line is the state the program ends in, not one it raced past
    yield* render
    if (Exit.isFailure(exit)) return yield* exit
  }))
