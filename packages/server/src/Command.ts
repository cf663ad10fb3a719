/**
 * The command table: every command of protocol v1 with its login rule and
 * its handler, in one total record (a new command does not compile until it
 * has both). Handlers fail with protocol errors; the connection turns those
 * into ERROR frames.
 */
import {
  AlreadyAuthenticated,
  AuthFailed,
  codePointLength,
  type Command,
  type CommandName,
  type Connect,
  DEFAULT_HISTORY_LIMIT,
  encodeFrame,
  type History,
  Internal,
  InvalidCommand,
  MAX_TEXT_CHARS,
  type Message,
  type Msg,
  NotAuthenticated,
  NotFound,
  type ProtocolError,
  quoteName,
  RateLimited,
  type Read,
  type Register,
  type RequestId,
  type Revoke,
  type SessionInfo,
  type Sessions,
  toErrorFrame,
  UnknownUser,
  USERNAME_PATTERN
} from "@parley/protocol"
import { type Cause, Effect, Exit, Option } from "effect"
import { Accounts, hashToken } from "./Account.ts"
import { addressKey } from "./AddressKey.ts"
import type { Connection, LoggedIn } from "./Connection.ts"
import { GroupCommit, type StoredRow } from "./GroupCommit.ts"
import { Hub } from "./Hub.ts"
import { isMember, type Member } from "./Hub.ts"
import { MessagesRepo } from "./MessagesRepo.ts"
import { Metrics } from "./Metrics.ts"
import { Presence } from "./Presence.ts"
import { ServerConfig } from "./ServerConfig.ts"
import { SessionsRepo } from "./SessionsRepo.ts"
import { SlidingWindow } from "./SlidingWindow.ts"
import { isStorageFault, StorageHealth, unavailable } from "./StorageHealth.ts"
import { TokensRepo } from "./TokensRepo.ts"
import { UsersRepo } from "./UsersRepo.ts"

/** Who may send a command: only before CONNECT, only after, or always. */
export type Access = "guest" | "member" | "any"

/** A handler beside its login rule; a member's handler is given the connection as logged in. */
type Handler<C> =
  | { readonly access: "member"; readonly handle: (command: C, conn: LoggedIn) => Effect.Effect<void, ProtocolError> }
  | {
    readonly access: Exclude<Access, "member">
    readonly handle: (command: C, conn: Connection) => Effect.Effect<void, ProtocolError>
  }

/** Each command's type by its name: indexed by a type parameter, it ties a command to its own handler. */
export type CommandMap = { readonly [K in CommandName]: Extract<Command, { command: K }> }

export type CommandTable = { readonly [K in CommandName]: Handler<CommandMap[K]> }

/** The table, and the MSG fast path beside it. */
export type Commands = Effect.Effect.Success<typeof makeCommands>

const withId = <F extends object>(
  frame: F,
  id: RequestId | undefined
): F => (id === undefined ? frame : { ...frame, id })

export const makeCommands = Effect.gen(function*() {
  const accounts = yield* Accounts
  const users = yield* UsersRepo
  const messages = yield* MessagesRepo
  const sessions = yield* SessionsRepo
  const commit = yield* GroupCommit
  const hub = yield* Hub
  const presence = yield* Presence
  const config = yield* ServerConfig
  const health = yield* StorageHealth
  const tokens = yield* TokensRepo
  const metrics = yield* Metrics
  // per (username, address) and per address, across connections: checked before any hash is computed
  const loginFailures = new SlidingWindow(config.loginFailures, 60_000)
  const registrations = new SlidingWindow(config.registerRate, 10 * 60_000)
  const revocations = new RecentRevocations()
  const loginKey = (username: string, conn: Connection) =>
    `${username.slice(0, 64).toLowerCase()}\u0000${addressKey(conn.remoteAddress)}`

  /**
   * The reply to a request that failed unexpectedly: UNAVAILABLE for a storage
   * fault (the outage logged once), INTERNAL for anything else (logged with its cause).
   */
  const failure = (
    cause: Cause.Cause<unknown>,
    command: { readonly command: string; readonly id?: RequestId | undefined }
  ) =>
    isStorageFault(cause)
      ? Effect.as(health.fault(cause), toErrorFrame(unavailable, command.id))
      : Effect.as(Effect.logError(`${command.command} failed`, cause), toErrorFrame(internal, command.id))

  /** A username in `to` / `with`: an unknown or malformed one is UNKNOWN_USER. */
  const resolveUser = (name: string) =>
    Effect.flatMap(
      USERNAME_PATTERN.test(name) ? users.resolve(name) : Effect.succeed(Option.none()),
      Option.match({
        onNone: () => Effect.fail(new UnknownUser({ message: `no user named ${quoteName(name)}` })),
        onSome: Effect.succeed
      })
    )

  const register = (command: Register, conn: Connection) =>
    Effect.gen(function*() {
      const address = addressKey(conn.remoteAddress)
      const wait = registrations.retryAfter(address, Date.now())
      if (wait > 0) {
        return yield* new RateLimited({
          message: "too many accounts created from this address; try again later",
          retryAfterMs: wait
        })
      }
      const username = yield* accounts.register(command.username, command.password, conn.remoteAddress)
      registrations.record(address, Date.now())
      yield* Effect.logInfo("account registered").pipe(Effect.annotateLogs("user", username))
      conn.send(withId({ type: "REGISTERED" as const, username }, command.id))
    })

  const connect = (command: Connect, conn: Connection) =>
    Effect.gen(function*() {
      const now = Date.now()
      const locked = conn.loginLockedFor(now)
      if (locked > 0) {
        return yield* new RateLimited({
          message: "too many failed logins on this connection; wait before trying again",
          retryAfterMs: locked
        })
      }
      const key = loginKey(command.username, conn)
      const wait = loginFailures.retryAfter(key, now)
      if (wait > 0) {
        return yield* new RateLimited({
          message: "too many failed logins for this name from this address; wait before trying again",
          retryAfterMs: wait
        })
      }
      const credentials = command.password !== undefined
        ? { password: command.password }
        : { token: command.token! }
      const identity = yield* accounts.login(command.username, credentials, conn.remoteAddress).pipe(
        Effect.tapError((error) =>
          Effect.gen(function*() {
            if (error._tag !== "AuthFailed") return
            const failedAt = Date.now()
            loginFailures.record(key, failedAt)
            conn.loginFailed(failedAt)
            yield* Effect.logWarning("login failed").pipe(
              Effect.annotateLogs({
                user: command.username.slice(0, 64),
                via: "password" in credentials ? "password" : "token"
              })
            )
          })
        )
      )
      const at = new Date().toISOString()
      const tokenHash = hashToken(identity.token)
      const sessionId = yield* commit.write(
        Effect.zipLeft(
          sessions.open(identity.userId, conn.remoteAddress, at, tokenHash),
          users.touchLogin(identity.userId, at)
        )
      )
      conn.loginSucceeded()
      loginFailures.reset(key)
      // a REVOKE of this token that committed while this login was in flight still wins
      if (revocations.revoked(tokenHash)) {
        yield* commit.write(sessions.close(sessionId, new Date().toISOString()))
        return yield* new AuthFailed({ message: "unknown user or wrong password/token" })
      }
      conn.logIn({ userId: identity.userId, username: identity.username, sessionId, tokenHash, connectTime: at })
      // hold live frames while the replay is assembled, then merge the two in message_id order
      conn.holdDeliveries()
      presence.arrive(conn)
      const unread = yield* messages.unreadCount(identity.userId)
      const replay = yield* messages.replay(identity.userId, command.resume_after, config.replayCap)
      const held = conn.releaseHeld()
      conn.send(withId({
        type: "CONNECTED" as const,
        user: identity.username,
        session_id: sessionId,
        token: identity.token,
        online: hub.online(),
        unread
      }, command.id))
      if (replay.truncated && replay.messages.length > 0) {
        conn.send({ type: "TRUNCATED", before: replay.messages[0]!.message_id })
      }
      const replayed = new Set<number>()
      const queue: Array<{ id: number; frame: Uint8Array }> = []
      for (const m of replay.messages) {
        replayed.add(m.message_id)
        queue.push({ id: m.message_id, frame: encodeFrame(m) })
      }
      const others: Array<Uint8Array> = []
      for (const h of held) {
        if (h.messageId === undefined) others.push(h.frame)
        else if (!replayed.has(h.messageId)) queue.push({ id: h.messageId, frame: h.frame })
      }
      queue.sort((a, b) => a.id - b.id)
      // the replay answers this CONNECT: it is bounded by the replay cap, not the broadcast limit
      for (const q of queue) conn.outbox.offer(q.frame, true)
      metrics.replayed(replay.messages.length)
      for (const f of others) conn.outbox.offer(f, true)
      yield* Effect.logInfo("logged in").pipe(
        Effect.annotateLogs({
          user: identity.username,
          session: sessionId,
          via: "password" in credentials ? "password" : "token",
          replayed: replay.messages.length
        })
      )
    })

  const onStored =
    (conn: LoggedIn, command: Msg, receiverName: string | null) => (exit: Exit.Exit<StoredRow>): void => {
      if (Exit.isSuccess(exit)) {
        const row = exit.value
        if (!row.duplicate) {
          const message: Message = {
            type: "MESSAGE",
            message_id: row.id,
            from: conn.auth.username,
            to: receiverName,
            text: row.text,
            timestamp: row.timestamp
          }
          hub.publish(message, row.senderId, row.receiverId, conn)
        }
        const ack: { type: "ACK"; message_id: number; timestamp: string; client_msg_id?: string; id?: RequestId } = {
          type: "ACK",
          message_id: row.id,
          timestamp: row.timestamp
        }
        if (command.client_msg_id !== undefined) ack.client_msg_id = command.client_msg_id
        if (command.id !== undefined) ack.id = command.id
        conn.send(ack)
      } else {
        conn.send(toErrorFrame(isStorageFault(exit.cause) ? unavailable : internal, command.id))
      }
      conn.ackDone()
    }

  const msg = (command: Msg, conn: LoggedIn) =>
    Effect.gen(function*() {
      // the schema enforces the protocol's 4096; an embedder may announce (and enforce) less
      if (config.maxTextChars < MAX_TEXT_CHARS && codePointLength(command.text) > config.maxTextChars) {
        return yield* new InvalidCommand({ message: `text: must be 1..${config.maxTextChars} characters` })
      }
      const receiver = command.to === undefined || command.to === null ? null : yield* resolveUser(command.to)
      yield* conn.throttle()
      queueMsg(command, conn, receiver)
    })

  const queueMsg = (
    command: Msg,
    conn: LoggedIn,
    receiver: { readonly id: number; readonly username: string } | null
  ) => {
    const me = conn.auth
    // counted first (the commit answers on a later turn of the event loop), and uncounted if
    // the message could not even be queued, so the connection's later replies never wait for it
    conn.ackPending()
    try {
      commit.submit({
        senderId: me.userId,
        receiverId: receiver === null ? null : receiver.id,
        text: command.text,
        clientMsgId: command.client_msg_id,
        done: onStored(conn, command, receiver === null ? null : receiver.username)
      })
    } catch (defect) {
      conn.ackDone()
      throw defect
    }
  }

  /**
   * The MSG hot path without an effect: when the sender may send now and the
   * recipient (if any) is known, the message is queued for commit at once.
   * False when anything needs the full handler (an error, a wait, a lookup).
   */
  const msgNow = (command: Msg, conn: Connection): boolean => {
    if (!isMember(conn) || config.maxTextChars < MAX_TEXT_CHARS) return false
    let receiver: { readonly id: number; readonly username: string } | null = null
    if (command.to !== undefined && command.to !== null) {
      const known = users.cached(command.to)
      if (known === undefined) return false
      receiver = known
    }
    if (!conn.tryTakeToken()) return false
    queueMsg(command, conn, receiver)
    return true
  }

  const history = (command: History, conn: LoggedIn) =>
    Effect.gen(function*() {
      const me = conn.auth
      const other = command.with === undefined || command.with === null ? undefined : yield* resolveUser(command.with)
      const page = yield* messages.history({
        userId: me.userId,
        withUserId: other?.id,
        before: command.before,
        after: command.after,
        limit: command.limit ?? DEFAULT_HISTORY_LIMIT
      })
      conn.send(withId({ type: "HISTORY" as const, messages: page.messages, has_more: page.hasMore }, command.id))
    })

  const read = (command: Read, conn: LoggedIn) =>
    Effect.gen(function*() {
      const me = conn.auth
      const sender = yield* messages.dmSender(me.userId, command.message_id)
      if (Option.isNone(sender)) {
        return yield* new NotFound({ message: `no direct message ${command.message_id} addressed to you` })
      }
      yield* commit.write(messages.markRead(me.userId, sender.value, command.message_id))
      conn.send(withId({ type: "OK" as const }, command.id))
      hub.toUser(sender.value, encodeFrame({ type: "RECEIPT", message_id: command.message_id, by: me.username }))
    })

  /** The user's sessions on this server that are not being closed, oldest first. */
  const openSessions = (userId: number): Array<Member> => {
    const open: Array<Member> = []
    for (const peer of hub.peersOf(userId)) if (peer.closing === undefined) open.push(peer)
    return open.sort((a, b) => a.auth.sessionId - b.auth.sessionId)
  }

  const listSessions = (command: Sessions, conn: LoggedIn) =>
    Effect.sync(() => {
      const list: Array<SessionInfo> = openSessions(conn.auth.userId).map((peer) => ({
        session_id: peer.auth.sessionId,
        ip_address: peer.remoteAddress,
        connect_time: peer.auth.connectTime,
        current: peer === conn
      }))
      conn.send(withId({ type: "SESSIONS" as const, sessions: list }, command.id))
    })

  /**
   * Revokes sessions and the tokens they logged in with: the tokens are
   * deleted (committed before the OK), then every open session that used one
   * of them gets `BYE revoked`. `all_others` keeps the current session's own
   * token, since the current session keeps it.
   */
  const revoke = (command: Revoke, conn: LoggedIn) =>
    Effect.gen(function*() {
      const me = conn.auth
      const mine = openSessions(me.userId)
      const hashes = new Set<string>()
      let targets: typeof mine
      if (command.session_id !== undefined) {
        const target = mine.find((peer) => peer.auth.sessionId === command.session_id)
        if (target === undefined) {
          return yield* new NotFound({ message: `no open session ${command.session_id} of yours` })
        }
        hashes.add(target.auth.tokenHash)
        targets = mine.filter((peer) => peer.auth.tokenHash === target.auth.tokenHash)
      } else {
        targets = mine.filter((peer) => peer !== conn)
        for (const peer of targets) if (peer.auth.tokenHash !== me.tokenHash) hashes.add(peer.auth.tokenHash)
      }
      if (hashes.size > 0) {
        yield* commit.write(tokens.revoke(hashes))
        revocations.add(hashes)
      }
      conn.send(withId({ type: "OK" as const }, command.id))
      // sessions that logged in with a revoked token since the list was taken go too
      const ended = new Map(targets.map((peer) => [peer, peer.auth.sessionId]))
      for (const peer of openSessions(me.userId)) {
        if (hashes.has(peer.auth.tokenHash)) ended.set(peer, peer.auth.sessionId)
      }
      for (const peer of ended.keys()) peer.revoke()
      yield* Effect.logInfo("sessions revoked").pipe(
        Effect.annotateLogs({ user: me.username, sessions: [...ended.values()].join(",") })
      )
    })

  const table: CommandTable = {
    REGISTER: { access: "guest", handle: register },
    CONNECT: { access: "guest", handle: connect },
    MSG: { access: "member", handle: msg },
    HISTORY: { access: "member", handle: history },
    READ: { access: "member", handle: read },
    USERS: {
      access: "member",
      handle: (command, conn) =>
        Effect.sync(() => conn.send(withId({ type: "USERS" as const, online: hub.online() }, command.id)))
    },
    SESSIONS: { access: "member", handle: listSessions },
    REVOKE: { access: "member", handle: revoke },
    PING: {
      access: "any",
      handle: (command, conn) => Effect.sync(() => conn.send(withId({ type: "PONG" as const }, command.id)))
    },
    DISCONNECT: {
      access: "any",
      handle: (command, conn) =>
        Effect.sync(() => conn.close("disconnect", withId({ type: "BYE" as const }, command.id)))
    }
  }
  return { table, msgNow, failure } as const
})

/**
 * Tokens revoked in the last minute. A token login reads the token before
 * its session is recorded; a REVOKE that commits in between would otherwise
 * leave that session open with a revoked token.
 */
class RecentRevocations {
  private readonly at = new Map<string, number>()
  private static readonly KEEP_MS = 60_000

  add(hashes: Iterable<string>): void {
    const now = Date.now()
    for (const [hash, when] of this.at) if (now - when > RecentRevocations.KEEP_MS) this.at.delete(hash)
    for (const hash of hashes) this.at.set(hash, now)
  }

  revoked(hash: string): boolean {
    const when = this.at.get(hash)
    return when !== undefined && Date.now() - when <= RecentRevocations.KEEP_MS
  }
}

const internal = new Internal({ message: "the server failed to handle this request" })

/**
 * Runs one command through its table entry: the login rule, then the
 * handler. `name` is `command.command`; taking it as a type parameter lets
 * the checker see that the entry and the command belong together (a
 * correlated union), so no cast is needed and nothing is allocated.
 */
export const dispatch = <K extends CommandName>(
  table: CommandTable,
  name: K,
  command: CommandMap[K],
  conn: Connection
): Effect.Effect<void, ProtocolError> => {
  const handler = table[name]
  if (handler.access === "member") {
    return isMember(conn) ? handler.handle(command, conn) : Effect.fail(notAuthenticated())
  }
  if (handler.access === "guest" && isMember(conn)) return Effect.fail(alreadyAuthenticated())
  return handler.handle(command, conn)
}

const notAuthenticated = () => new NotAuthenticated({ message: "log in first with CONNECT" })

const alreadyAuthenticated = () => new AlreadyAuthenticated({ message: "this connection is already logged in" })
