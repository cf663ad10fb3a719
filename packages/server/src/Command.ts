/**
 * The command table: every command of protocol v1 (and v1.2's rooms, whose
 * handlers live in RoomHandlers.ts) with its login rule and
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
  GENERAL_ROOM,
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
  toErrorFrame,
  UnknownUser,
  USERNAME_PATTERN
} from "@parley/protocol"
import { type Cause, Clock, DateTime, Effect, Exit, Option } from "effect"
import { Accounts, hashToken } from "./Account.ts"
import { addressKey } from "./AddressKey.ts"
import type { Connection, Held, LoggedIn } from "./Connection.ts"
import { GroupCommit, type StoredRow } from "./GroupCommit.ts"
import { Hub } from "./Hub.ts"
import { isMember } from "./Hub.ts"
import { editCommands } from "./MessageEdits.ts"
import { MessagesRepo } from "./MessagesRepo.ts"
import { Metrics } from "./Metrics.ts"
import { moderationCommands } from "./ModerationHandlers.ts"
import { Presence } from "./Presence.ts"
import { Relay } from "./Relay.ts"
import { RoomNames, type RoomRef, RoomSanctions } from "./RoomFastPath.ts"
import { roomCommands, roomFor } from "./RoomHandlers.ts"
import { RoomsRepo } from "./RoomsRepo.ts"
import { ServerConfig, type ServerSettings } from "./ServerConfig.ts"
import { RecentRevocations, sessionCommands } from "./SessionHandlers.ts"
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

export const withId = <F extends object>(
  frame: F,
  id: RequestId | undefined
): F => (id === undefined ? frame : { ...frame, id })

/** What the handlers share: the services they use and the server-wide login throttles. */
export interface Shared {
  readonly accounts: Accounts
  readonly users: UsersRepo
  readonly messages: MessagesRepo
  readonly sessions: SessionsRepo
  readonly commit: GroupCommit
  readonly hub: Hub
  readonly presence: Presence
  readonly config: ServerSettings
  readonly health: StorageHealth
  readonly tokens: TokensRepo
  readonly metrics: Metrics
  /** Failed logins per (username, address), across connections: checked before any hash is computed. */
  readonly loginFailures: SlidingWindow
  /** Accounts created per address. */
  readonly registrations: SlidingWindow
  readonly revocations: RecentRevocations
  readonly rooms: RoomsRepo
  /** Rooms created per account (20 an hour). */
  readonly roomCreations: SlidingWindow
  /**
   * Users who may be muted in general (loaded at start, kept by this
   * server's MUTE and UNMUTE): their MSGs to general leave the fast path
   * and are checked against the database.
   */
  readonly generalMutes: Set<number>
  /** Rooms by the name MSGs gave them, for the room MSG fast path (see RoomFastPath.ts). */
  readonly roomNames: RoomNames
  /** Who may be banned or muted in which room (loaded at start, kept by BAN, MUTE, UNBAN, UNMUTE). */
  readonly roomSanctions: RoomSanctions
  /** Accounts this server locked (and did not unlock since): a login in flight during a LOCK still fails. */
  readonly locked: Set<number>
  /** The other nodes of a cluster (see Relay.ts). */
  readonly relay: Relay
  /** The server's clock, for the fast path (which runs without a fiber): sanctions end by it. */
  readonly clock: Clock.Clock
}

const makeShared = Effect.gen(function*() {
  const config = yield* ServerConfig
  const rooms = yield* RoomsRepo
  const startedAt = DateTime.formatIso(yield* DateTime.now)
  const muted = yield* rooms.generalMutes(startedAt)
  const roomSanctions = new RoomSanctions()
  for (const s of yield* rooms.roomSanctions(startedAt)) {
    roomSanctions.impose(s.kind, s.room_id, s.user_id, s.expires_at)
  }
  const shared: Shared = {
    accounts: yield* Accounts,
    users: yield* UsersRepo,
    messages: yield* MessagesRepo,
    sessions: yield* SessionsRepo,
    commit: yield* GroupCommit,
    hub: yield* Hub,
    presence: yield* Presence,
    config,
    health: yield* StorageHealth,
    tokens: yield* TokensRepo,
    metrics: yield* Metrics,
    loginFailures: new SlidingWindow(config.loginFailures, 60_000),
    registrations: new SlidingWindow(config.registerRate, 10 * 60_000),
    revocations: new RecentRevocations(),
    rooms,
    roomCreations: new SlidingWindow(20, 60 * 60_000),
    generalMutes: new Set(muted.map((m) => m.user_id)),
    roomNames: new RoomNames(),
    roomSanctions,
    locked: new Set(),
    relay: yield* Relay,
    clock: yield* Effect.clock
  }
  // what the other nodes of a cluster change in this node's copies
  shared.relay.on("generalMute", (op) => {
    if (op.muted) shared.generalMutes.add(op.user)
    else shared.generalMutes.delete(op.user)
  })
  shared.relay.on("lock", (op) => {
    if (op.locked) shared.locked.add(op.user)
    else shared.locked.delete(op.user)
  })
  shared.relay.on("revoke", (op) => shared.revocations.add(op.hashes, Date.now()))
  return shared
})

export const makeCommands = Effect.map(makeShared, (shared) => {
  const table: CommandTable = {
    REGISTER: { access: "guest", handle: register(shared) },
    CONNECT: { access: "guest", handle: connect(shared) },
    MSG: { access: "member", handle: msg(shared) },
    HISTORY: { access: "member", handle: history(shared) },
    READ: { access: "member", handle: read(shared) },
    USERS: {
      access: "member",
      handle: (command, conn) =>
        Effect.sync(() => conn.send(withId({ type: "USERS" as const, online: shared.hub.online() }, command.id)))
    },
    PING: {
      access: "any",
      handle: (command, conn) => Effect.sync(() => conn.send(withId({ type: "PONG" as const }, command.id)))
    },
    DISCONNECT: {
      access: "any",
      handle: (command, conn) =>
        Effect.sync(() => conn.close("disconnect", withId({ type: "BYE" as const }, command.id)))
    },
    ...sessionCommands(shared),
    ...roomCommands(shared),
    ...moderationCommands(shared),
    ...editCommands(shared)
  }
  return { table, msgNow: msgNow(shared), failure: failure(shared) } as const
})

/**
 * The reply to a request that failed unexpectedly: UNAVAILABLE for a storage
 * fault (the outage logged once), INTERNAL for anything else (logged with its cause).
 */
const failure = ({ health }: Shared) =>
(
  cause: Cause.Cause<unknown>,
  command: { readonly command: string; readonly id?: RequestId | undefined }
) =>
  isStorageFault(cause)
    ? Effect.as(health.fault(cause), toErrorFrame(unavailable, command.id))
    : Effect.as(Effect.logError(`${command.command} failed`, cause), toErrorFrame(internal, command.id))

/** A username in `to` / `with`: an unknown or malformed one is UNKNOWN_USER. */
export const resolveUser = ({ users }: Shared, name: string) =>
  Effect.flatMap(
    USERNAME_PATTERN.test(name) ? users.resolve(name) : Effect.succeed(Option.none()),
    Option.match({
      onNone: () => Effect.fail(new UnknownUser({ message: `no user named ${quoteName(name)}` })),
      onSome: Effect.succeed
    })
  )

const register = ({ accounts, registrations }: Shared) => (command: Register, conn: Connection) =>
  Effect.gen(function*() {
    const address = addressKey(conn.remoteAddress)
    const wait = registrations.retryAfter(address, yield* Clock.currentTimeMillis)
    if (wait > 0) {
      return yield* new RateLimited({
        message: "too many accounts created from this address; try again later",
        retryAfterMs: wait
      })
    }
    const username = yield* accounts.register(command.username, command.password, conn.remoteAddress)
    registrations.record(address, yield* Clock.currentTimeMillis)
    yield* Effect.logInfo("account registered").pipe(Effect.annotateLogs("user", username))
    conn.send(withId({ type: "REGISTERED" as const, username }, command.id))
  })

/** The key failed logins count under: the name tried, from this address. */
const loginKey = (username: string, conn: Connection) =>
  `${username.slice(0, 64).toLowerCase()}\u0000${addressKey(conn.remoteAddress)}`

const viaOf = (command: Connect) => (command.password !== undefined ? "password" : "token")

/** Fails when this connection, or this name from this address, has failed to log in too often lately. */
const checkLoginAllowed = ({ loginFailures }: Shared, conn: Connection, key: string) =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => {
    const locked = conn.loginLockedFor(now)
    if (locked > 0) {
      return new RateLimited({
        message: "too many failed logins on this connection; wait before trying again",
        retryAfterMs: locked
      })
    }
    const wait = loginFailures.retryAfter(key, now)
    if (wait > 0) {
      return new RateLimited({
        message: "too many failed logins for this name from this address; wait before trying again",
        retryAfterMs: wait
      })
    }
    return Effect.void
  })

/** Checks the credentials; a wrong one counts against the connection and the name from this address. */
const authenticate = ({ accounts, loginFailures }: Shared, command: Connect, conn: Connection, key: string) =>
  accounts.login(
    command.username,
    command.password !== undefined ? { password: command.password } : { token: command.token! },
    conn.remoteAddress
  ).pipe(
    Effect.tapError((error) =>
      error._tag !== "AuthFailed" ? Effect.void : Effect.flatMap(Clock.currentTimeMillis, (failedAt) => {
        loginFailures.record(key, failedAt)
        conn.loginFailed(failedAt)
        return Effect.logWarning("login failed").pipe(
          Effect.annotateLogs({ user: command.username.slice(0, 64), via: viaOf(command) })
        )
      })
    )
  )

const connect = (shared: Shared) => (command: Connect, conn: Connection) =>
  Effect.gen(function*() {
    const { commit, loginFailures, revocations, sessions, users } = shared
    const key = loginKey(command.username, conn)
    yield* checkLoginAllowed(shared, conn, key)
    const identity = yield* authenticate(shared, command, conn, key)
    const at = DateTime.formatIso(yield* DateTime.now)
    const tokenHash = hashToken(identity.token)
    const sessionId = yield* commit.write(
      Effect.zipLeft(
        sessions.open(identity.userId, conn.remoteAddress, at, tokenHash, shared.config.nodeId),
        users.touchLogin(identity.userId, at)
      )
    )
    conn.loginSucceeded()
    loginFailures.reset(key)
    // a REVOKE of this token that committed while this login was in flight still wins
    const now = yield* DateTime.now
    if (revocations.revoked(tokenHash, now.epochMillis) || shared.locked.has(identity.userId)) {
      yield* commit.write(sessions.close(sessionId, DateTime.formatIso(now)))
      return yield* new AuthFailed({ message: "unknown user or wrong password/token" })
    }
    conn.logIn({
      userId: identity.userId,
      username: identity.username,
      sessionId,
      tokenHash,
      connectTime: at,
      rooms: command.rooms === true
    })
    const replayed = yield* welcome(shared, command, conn, identity.token)
    yield* Effect.logInfo("logged in").pipe(
      Effect.annotateLogs({ user: identity.username, session: sessionId, via: viaOf(command), replayed })
    )
  })

/**
 * Answers a successful CONNECT: CONNECTED, then the replay merged in
 * message_id order with what was delivered live meanwhile. Returns how many
 * messages were replayed.
 */
const welcome = (shared: Shared, command: Connect, conn: LoggedIn, token: string) =>
  Effect.gen(function*() {
    const { config, hub, messages, metrics, presence, rooms } = shared
    const { sessionId, userId, username } = conn.auth
    // hold live frames while the replay is assembled, then merge the two in message_id order
    conn.holdDeliveries()
    presence.arrive(conn)
    if (conn.auth.rooms) yield* enterRooms(shared, conn)
    const unread = yield* messages.unreadCount(userId)
    const replay = yield* messages.replay(userId, command.resume_after, config.replayCap, conn.auth.rooms)
    const roomList = conn.auth.rooms ? yield* rooms.list(userId, true) : undefined
    const admin = conn.auth.rooms && (yield* shared.users.standing(userId)).admin
    const held = conn.releaseHeld(Math.max(command.resume_after ?? 0, replay.messages.at(-1)?.message_id ?? 0))
    conn.send(withId({
      type: "CONNECTED" as const,
      user: username,
      session_id: sessionId,
      token,
      online: hub.online(),
      unread,
      ...(roomList === undefined ? {} : { rooms: roomList }),
      ...(admin ? { admin: true as const } : {})
    }, command.id))
    if (replay.truncated && replay.messages.length > 0) {
      conn.send({ type: "TRUNCATED", before: replay.messages[0]!.message_id })
    }
    const { ordered, others } = mergeReplay(replay.messages, held)
    // the replay answers this CONNECT: it is bounded by the replay cap, not the broadcast limit
    for (const frame of ordered) conn.outbox.offer(frame, true)
    metrics.replayed(replay.messages.length)
    for (const frame of others) conn.outbox.offer(frame, true)
    return replay.messages.length
  })

/**
 * Puts an opted-in connection into its user's rooms. It is in the hub before
 * the memberships are read, so a JOIN committed after the read adds it; a
 * PART (or kick, ban, deletion) committed between the read and the entry is
 * caught by reading again once it is in the sets, and any later one takes
 * it out like the user's other connections.
 */
const enterRooms = ({ hub, rooms }: Shared, conn: LoggedIn) =>
  Effect.gen(function*() {
    const first = yield* rooms.memberships(conn.auth.userId)
    hub.enterRooms(conn, first)
    const now = new Set(yield* rooms.memberships(conn.auth.userId))
    hub.leaveRooms(conn, first.filter((roomId) => !now.has(roomId)))
  })

/**
 * The replayed messages and the MESSAGE events held during the replay, in
 * message_id order without duplicates; `others` are the other held events
 * (PRESENCE, RECEIPT), to follow in arrival order.
 */
const mergeReplay = (
  replay: ReadonlyArray<Message>,
  held: ReadonlyArray<Held>
): { readonly ordered: Array<Uint8Array>; readonly others: Array<Uint8Array> } => {
  const replayed = new Set<number>()
  const queue: Array<{ id: number; frame: Uint8Array }> = []
  for (const m of replay) {
    replayed.add(m.message_id)
    queue.push({ id: m.message_id, frame: encodeFrame(m) })
  }
  const others: Array<Uint8Array> = []
  for (const h of held) {
    if (h.messageId === undefined) others.push(h.frame)
    else if (!replayed.has(h.messageId)) queue.push({ id: h.messageId, frame: h.frame })
  }
  queue.sort((a, b) => a.id - b.id)
  return { ordered: queue.map((q) => q.frame), others }
}

/** Where a MSG goes: a user (a DM), a room, or neither (`general`). */
interface Destination {
  readonly receiver: { readonly id: number; readonly username: string } | null
  readonly room: RoomRef | null
}

const toGeneral: Destination = { receiver: null, room: null }

/** A MSG's commit came back: fan it out (unless it was a duplicate) and ACK it, or answer the failure. */
const onStored = (hub: Hub, conn: LoggedIn, command: Msg, to: Destination) =>
(
  exit: Exit.Exit<StoredRow>
): void => {
  if (Exit.isSuccess(exit)) {
    const row = exit.value
    if (!row.duplicate) {
      const message: Message = {
        type: "MESSAGE",
        message_id: row.id,
        from: conn.auth.username,
        to: to.receiver === null ? null : to.receiver.username,
        room: to.receiver !== null ? null : to.room === null ? GENERAL_ROOM : to.room.name,
        text: row.text,
        timestamp: row.timestamp
      }
      hub.publish({ message, senderId: row.senderId, receiverId: row.receiverId, roomId: row.roomId, sender: conn })
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

const msg = (shared: Shared) => (command: Msg, conn: LoggedIn) =>
  Effect.gen(function*() {
    const { config } = shared
    // the schema enforces the protocol's 4096; an embedder may announce (and enforce) less
    if (config.maxTextChars < MAX_TEXT_CHARS && codePointLength(command.text) > config.maxTextChars) {
      return yield* new InvalidCommand({ message: `text: must be 1..${config.maxTextChars} characters` })
    }
    const to: Destination = command.to !== undefined && command.to !== null
      ? { receiver: yield* resolveUser(shared, command.to), room: null }
      : isRoom(command.room)
      ? { receiver: null, room: yield* toRoomChecked(shared, command.room, conn) }
      : yield* toGeneralChecked(shared, conn)
    yield* conn.throttle()
    queueMsg(shared, command, conn, to)
  })

/** General, after the database confirms a possible mute there (see `Shared.generalMutes`). */
const toGeneralChecked = (shared: Shared, conn: LoggedIn) =>
  shared.generalMutes.has(conn.auth.userId)
    ? Effect.as(roomFor(shared, GENERAL_ROOM, conn, "SEND"), toGeneral)
    : Effect.succeed(toGeneral)

/** A room, after the database allows the SEND; its name is remembered for the fast path. */
const toRoomChecked = (shared: Shared, name: string, conn: LoggedIn) =>
  Effect.map(roomFor(shared, name, conn, "SEND"), ({ room }) => {
    shared.roomNames.remember(name, room)
    return room
  })

/**
 * The room a MSG names, when memory alone shows that the database would
 * allow the SEND (see RoomFastPath.ts for why); undefined when only the
 * database can tell. Only on a node that is the whole service: in a cluster
 * the other nodes' PART, KICK, BAN and deletions reach this node's room sets
 * by notices nobody waits for.
 */
const roomNow = (shared: Shared, name: string, conn: LoggedIn): RoomRef | undefined => {
  if (shared.relay.linked()) return undefined
  const room = shared.roomNames.get(name)
  if (room === undefined || !shared.hub.inRoom(room.id, conn)) return undefined
  return shared.roomSanctions.mayHold(room.id, conn.auth.userId, shared.clock.unsafeCurrentTimeMillis())
    ? undefined
    : room
}

/** A `room` that names a room other than `general`. */
const isRoom = (room: string | undefined): room is string => room !== undefined && room.toLowerCase() !== GENERAL_ROOM

const queueMsg = (
  { commit, hub }: Shared,
  command: Msg,
  conn: LoggedIn,
  to: Destination
) => {
  // counted first (the commit answers on a later turn of the event loop), and uncounted if
  // the message could not even be queued, so the connection's later replies never wait for it
  conn.ackPending()
  try {
    commit.submit({
      senderId: conn.auth.userId,
      receiverId: to.receiver === null ? null : to.receiver.id,
      roomId: to.room === null ? null : to.room.id,
      text: command.text,
      clientMsgId: command.client_msg_id,
      done: onStored(hub, conn, command, to)
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
const msgNow = (shared: Shared) => (command: Msg, conn: Connection): boolean => {
  if (!isMember(conn) || shared.config.maxTextChars < MAX_TEXT_CHARS) return false
  let to = toGeneral
  if (command.to !== undefined && command.to !== null) {
    if (isRoom(command.room)) return false
    const known = shared.users.cached(command.to)
    if (known === undefined) return false
    to = { receiver: known, room: null }
  } else if (isRoom(command.room)) {
    const room = roomNow(shared, command.room, conn)
    if (room === undefined) return false
    to = { receiver: null, room }
  } else if (shared.generalMutes.has(conn.auth.userId)) return false
  if (!conn.tryTakeToken()) return false
  queueMsg(shared, command, conn, to)
  return true
}

const history = (shared: Shared) => (command: History, conn: LoggedIn) =>
  Effect.gen(function*() {
    const other = command.with === undefined || command.with === null
      ? undefined
      : yield* resolveUser(shared, command.with)
    const room = isRoom(command.room) ? (yield* roomFor(shared, command.room, conn, "READ")).room : undefined
    const page = yield* shared.messages.history({
      userId: conn.auth.userId,
      withUserId: other?.id,
      roomId: room?.id,
      before: command.before,
      after: command.after,
      limit: command.limit ?? DEFAULT_HISTORY_LIMIT
    })
    conn.send(withId({ type: "HISTORY" as const, messages: page.messages, has_more: page.hasMore }, command.id))
  })

const read = (shared: Shared) => (command: Read, conn: LoggedIn) =>
  command.room !== undefined ? readInRoom(shared, command, command.room, conn) : readDm(shared, command, conn)

/** READ in a room: moves the read mark forward; no receipt. */
const readInRoom = (shared: Shared, command: Read, name: string, conn: LoggedIn) =>
  Effect.gen(function*() {
    const { room } = yield* roomFor(shared, name, conn, "MARK_READ")
    if (!(yield* shared.rooms.hasMessage(room.id, command.message_id))) {
      return yield* new NotFound({ message: `no message ${command.message_id} in ${room.name}` })
    }
    const now = DateTime.formatIso(yield* DateTime.now)
    yield* shared.commit.write(shared.rooms.markRead(room.id, conn.auth.userId, command.message_id, now))
    conn.send(withId({ type: "OK" as const }, command.id))
  })

const readDm = ({ commit, hub, messages }: Shared, command: Read, conn: LoggedIn) =>
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
