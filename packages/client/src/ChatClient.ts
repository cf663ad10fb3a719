/**
 * The Parley client service: one logical connection to a server that
 * survives broken links. It dials, logs in (REGISTER once if asked, CONNECT
 * with the password, then with the returned token), keeps the seed's state
 * machine in a `SubscriptionRef`, reconnects on a backoff `Schedule`, keeps
 * every MSG in an outbox until its ACK, resumes after the highest message it
 * saw, and hands out each message exactly once on its `events` stream.
 */
import {
  type Ack,
  codePointLength,
  GENERAL_ROOM,
  Msg,
  Read,
  Revoke,
  type RoomInfo,
  type SessionInfo,
  Sessions,
  Text,
  USERNAME_PATTERN,
  Users
} from "@parley/protocol"
import {
  Clock,
  type Config,
  Context,
  Deferred,
  Duration,
  Effect,
  Either,
  Exit,
  Fiber,
  FiberId,
  Layer,
  Option,
  PubSub,
  type Queue,
  type Redacted,
  Runtime,
  Schema,
  type Scope,
  Stream,
  SubscriptionRef
} from "effect"
import * as Backoff from "./Backoff.ts"
import {
  ClientStopped,
  ConnectionLost,
  InvalidInput,
  LoginRejected,
  NotConnected,
  type RequestError,
  RequestRejected,
  type SendError
} from "./ClientError.ts"
import * as Connection from "./Connection.ts"
import { ConnectionEvent, type ConnectionState, initial, move } from "./ConnectionState.ts"
import {
  type AnyErrorFrame,
  encoded,
  type Incoming as ServerFrame,
  isRoomEvent,
  type Outgoing,
  type RoomConnected as Connected,
  type RoomEvent,
  type RoomHistoryPage as HistoryPage
} from "./Frames.ts"
import * as Inbox from "./Inbox.ts"
import type { ChatEvent } from "./Inbox.ts"
import * as Login from "./Login.ts"
import { Outbox, type OutboxEntry } from "./Outbox.ts"
import * as Reply from "./Reply.ts"
import type { HistoryQuery } from "./Reply.ts"
import * as Rooms from "./Rooms.ts"
import { randomUuid } from "./Uuid.ts"

/** How to reach the server and whom to log in as. */
export interface ChatClientOptions extends Connection.ConnectionOptions {
  readonly username: string
  /** Needed for the first login, and again only when the server forgets the token. */
  readonly password?: Redacted.Redacted<string> | undefined
  /** A token from an earlier CONNECTED, to log in without the password. */
  readonly token?: string | undefined
  /** Create the account first (an existing account with this password is fine too). */
  readonly register?: boolean | undefined
  /** Public messages from before the first login to put on `events` (default 0). */
  readonly backlog?: number | undefined
  /** Reconnect timing. */
  readonly backoff?: Backoff.BackoffOptions | undefined
  /** How long REGISTER and CONNECT may take to be answered (default 30 s). */
  readonly authTimeout?: Duration.DurationInput | undefined
  /**
   * Opt in to room traffic (protocol v1.2, `rooms: true` on CONNECT): the messages and events of
   * every room you are a member of, and `rooms` in CONNECTED (default off: `general` and DMs only).
   */
  readonly rooms?: boolean | undefined
}

/** Where a message goes: `general` (null or absent), a user's DMs (a name), or a room (v1.2). */
export type Destination = string | null | { readonly room: string }

export type { RoomEvent, RoomHistoryPage, RoomMessage } from "./Frames.ts"
export type { AuditQuery, RoomError, RoomMethods, Sanction } from "./Rooms.ts"

export type { ChatEvent } from "./Inbox.ts"
export type { HistoryQuery } from "./Reply.ts"

export declare namespace ChatClient {
  /** The client's interface. */
  export interface Service extends Rooms.RoomMethods {
    readonly options: ChatClientOptions
    /** The connection state; watch `state.changes`. */
    readonly state: SubscriptionRef.SubscriptionRef<ConnectionState>
    /** Who is online (registered spellings, sorted), as of the last CONNECTED and PRESENCE. */
    readonly online: SubscriptionRef.SubscriptionRef<ReadonlyArray<string>>
    /** The rooms you are a member of, as of the last CONNECTED (with the `rooms` option; else empty). */
    readonly joinedRooms: SubscriptionRef.SubscriptionRef<ReadonlyArray<RoomInfo>>
    /** Whether you are a server admin, as of the last CONNECTED (with the `rooms` option; else false). */
    readonly admin: SubscriptionRef.SubscriptionRef<boolean>
    /**
     * Every MESSAGE (yours included, once ACKed), PRESENCE, RECEIPT and BYE, in
     * order, each message once. Subscribe before `connect` to miss nothing.
     */
    readonly events: Stream.Stream<ChatEvent>
    /** A queue of the events from now on, for as long as the scope lives. */
    readonly subscribe: Effect.Effect<Queue.Dequeue<ChatEvent>, never, Scope.Scope>
    /** Only the room events of `events` (MEMBER, TOPIC, EDITED, DELETED, ROOM_DELETED, INVITED). */
    readonly roomEvents: Stream.Stream<RoomEvent>
    /**
     * Starts the connection (reconnecting on its own from then on) and waits for
     * the first login. Fails only when the login is refused for good.
     */
    readonly connect: Effect.Effect<Connected, LoginRejected | ClientStopped>
    /** Sends a message (to `general`, a DM, or a room) and waits for its ACK, across reconnects. */
    readonly send: (text: string, to?: Destination) => Effect.Effect<Ack, SendError>
    /**
     * Puts a message in the outbox (sent now if connected, else after the next
     * login) and returns the wait for its ACK. Messages go out in `enqueue` order.
     */
    readonly enqueue: (
      text: string,
      to?: Destination
    ) => Effect.Effect<Effect.Effect<Ack, SendError>, InvalidInput | RequestRejected>
    /** A page of history. */
    readonly history: (query?: HistoryQuery) => Effect.Effect<HistoryPage, RequestError>
    /** Who is online, asked of the server. */
    readonly users: Effect.Effect<ReadonlyArray<string>, RequestError>
    /** Your open sessions (logged-in connections), oldest first; `current` marks this one. */
    readonly sessions: Effect.Effect<ReadonlyArray<SessionInfo>, RequestError>
    /**
     * Ends one of your sessions (`session_id`), or every other one, and revokes the tokens they
     * logged in with. Revoking this client's own session ends it: it does not log in again.
     */
    readonly revoke: (which: number | "all_others") => Effect.Effect<void, RequestError>
    /**
     * Marks a DM addressed to you (and every earlier one from its sender) as read; with `room`,
     * moves your read mark in that room (v1.2).
     */
    readonly markRead: (messageId: number, room?: string) => Effect.Effect<void, RequestError>
    /** How many sent messages still wait for their ACK. */
    readonly pending: Effect.Effect<number>
    /** Says goodbye (DISCONNECT) and stops reconnecting; unACKed sends fail with `ClientStopped`. */
    readonly disconnect: Effect.Effect<void>
  }
}

type Outcome = { readonly _tag: "Stopped" } | { readonly _tag: "Lost"; readonly error: ConnectionLost }

interface Run {
  readonly stop: Deferred.Deferred<void>
  readonly firstLogin: Deferred.Deferred<Connected, LoginRejected | ClientStopped>
  fiber: Fiber.RuntimeFiber<void> | undefined
}

/** What one client's parts know and change together; one per client. */
interface Shared {
  /** The logged-in link sends go to, if any. */
  live: Connection.Connection | undefined
  /** Our registered name, once logged in. */
  me: string | undefined
  /** What to log in with next: from the options, then from each CONNECTED. */
  token: string | undefined
  /** REGISTER is still to be sent (asked for, and no login has succeeded yet). */
  registerPending: boolean
  /** The server's limit on a message, from its HELLO. */
  maxTextChars: number
  /** The features its HELLO announced (`"rooms"`: protocol v1.2); undefined before the first HELLO. */
  features: ReadonlyArray<string> | undefined
  /** The supervisor, from `connect` until it ends. */
  run: Run | undefined
}

/** What the parts of one client are built from. */
interface Parts {
  readonly options: ChatClientOptions
  readonly state: SubscriptionRef.SubscriptionRef<ConnectionState>
  readonly online: SubscriptionRef.SubscriptionRef<ReadonlyArray<string>>
  readonly joinedRooms: SubscriptionRef.SubscriptionRef<ReadonlyArray<RoomInfo>>
  readonly admin: SubscriptionRef.SubscriptionRef<boolean>
  readonly inbox: Inbox.Inbox
  readonly outbox: Outbox
  /** Held while writing MSGs, so resends after a login go out before any new send. */
  readonly sendLock: Effect.Semaphore
  readonly authTimeout: Duration.Duration
  readonly runtime: Runtime.Runtime<never>
  readonly scope: Scope.Scope
  readonly shared: Shared
}

/** A revoked session is not logged in again behind the user's back: whoever revoked it meant it. */
const isRetryable = (error: ConnectionLost | LoginRejected): boolean =>
  error._tag === "ConnectionLost" && error.revoked !== true

const validText = Schema.decodeUnknownEither(Text)

const msgCommand = (entry: OutboxEntry): Outgoing => {
  const msg = new Msg({
    command: "MSG",
    id: entry.clientMsgId,
    text: entry.text,
    ...(entry.to !== null ? { to: entry.to } : {}),
    client_msg_id: entry.clientMsgId
  }, true)
  // `room` is v1.2: the protocol's `Msg` schema does not have it yet
  return entry.room === null ? msg : encoded({ ...Schema.encodeSync(Msg)(msg), room: entry.room })
}

// --- sending: the outbox, written to the live link and again after each login ---

/**
 * A server whose HELLO lacks `"rooms"` must not get room commands, and would take a MSG's `room`
 * for nothing and post it to everyone. Before the first HELLO nothing is known: let it through.
 */
const noRooms = (shared: Shared): InvalidInput | undefined =>
  shared.features !== undefined && !shared.features.includes("rooms")
    ? new InvalidInput({ reason: "this server does not speak rooms (protocol v1.2): only general and DMs" })
    : undefined

/** Checks a message against the server's limits before it takes a place in the outbox. */
const checkMessage = (text: string, to: Destination | undefined, maxTextChars: number) => {
  if (codePointLength(text) > maxTextChars) {
    return new InvalidInput({
      reason: `a message must be at most ${maxTextChars} characters (this one has ${codePointLength(text)})`
    })
  }
  if (Either.isLeft(validText(text))) {
    return new InvalidInput({
      reason: text.trim().length === 0
        ? "a message cannot be empty"
        : "a message must be well-formed text (no NUL, no lone surrogate halves)"
    })
  }
  if (typeof to === "string" && !USERNAME_PATTERN.test(to)) {
    return new RequestRejected({ code: "UNKNOWN_USER", reason: `no user named "${to}"` })
  }
  if (typeof to === "object" && to !== null && !USERNAME_PATTERN.test(to.room)) {
    return new InvalidInput({ reason: `"${to.room}" is not a room name (3..32 characters of A-Z a-z 0-9 _ -)` })
  }
  return undefined
}

const makeEnqueue = (c: Parts) =>
  Effect.fn("ChatClient.enqueue")(function*(text: string, to?: Destination) {
    const invalid = checkMessage(text, to, c.shared.maxTextChars) ??
      (typeof to === "object" && to !== null ? noRooms(c.shared) : undefined)
    if (invalid !== undefined) return yield* invalid
    const entry: OutboxEntry = {
      clientMsgId: randomUuid(),
      text,
      to: typeof to === "string" ? to : null,
      room: typeof to === "object" && to !== null ? to.room : null,
      done: yield* Deferred.make<Ack, SendError>()
    }
    yield* c.sendLock.withPermits(1)(Effect.sync(() => {
      c.outbox.add(entry)
      if (c.shared.live !== undefined) c.shared.live.write(msgCommand(entry))
    }))
    return Deferred.await(entry.done)
  })

/** An ERROR answering one of our MSGs (called synchronously, in arrival order). */
const onMsgError = (c: Parts) => (frame: AnyErrorFrame, clientMsgId: string) => {
  switch (frame.code) {
    case "RATE_LIMITED":
    case "UNAVAILABLE":
      // the server asks us to wait (too fast, or its database is out for now): send this one
      // again then, with the same client_msg_id, if still pending and connected
      Runtime.runFork(c.runtime)(Effect.forkIn(
        Effect.sleep(Duration.millis(frame.retry_after_ms ?? 1000)).pipe(
          Effect.zipRight(
            c.sendLock.withPermits(1)(Effect.sync(() => {
              const entry = c.outbox.pending().find((e) => e.clientMsgId === clientMsgId)
              if (entry !== undefined && c.shared.live !== undefined) c.shared.live.write(msgCommand(entry))
            }))
          )
        ),
        c.scope
      ))
      return
    case "NOT_AUTHENTICATED":
      // sent on a link that is going away: the outbox sends it again after the next login
      return
    default:
      c.outbox.reject(clientMsgId, Reply.rejection(frame))
  }
}

// --- receiving: frames from the wire (called synchronously, in arrival order) ---

const onFrame = (c: Parts) => {
  const msgError = onMsgError(c)
  return (session: number, holder: { conn?: Connection.Connection }, resumeAfter: () => number | undefined) =>
  (frame: ServerFrame) => {
    switch (frame.type) {
      case "ACK": {
        const key = frame.client_msg_id ?? (typeof frame.id === "string" ? frame.id : undefined)
        if (key === undefined) return
        const entry = c.outbox.ack(key, frame)
        const me = c.shared.me
        if (entry === undefined || me === undefined) return
        c.inbox.offer({
          _tag: "Own",
          message: {
            type: "MESSAGE",
            message_id: frame.message_id,
            from: me,
            to: entry.to,
            room: entry.room ?? (entry.to === null ? GENERAL_ROOM : null),
            text: entry.text,
            timestamp: frame.timestamp
          }
        })
        return
      }
      case "ERROR":
        if (typeof frame.id === "string") msgError(frame, frame.id)
        return
      case "MESSAGE":
      case "PRESENCE":
      case "RECEIPT":
      case "BYE":
      case "TRUNCATED":
      case "MEMBER":
      case "TOPIC":
      case "EDITED":
      case "DELETED":
      case "ROOM_DELETED":
      case "INVITED":
        if (holder.conn !== undefined) {
          c.inbox.offer({ _tag: "Frame", frame, session, conn: holder.conn, resumeAfter: resumeAfter() })
        }
        return
      default:
        return
    }
  }
}

// --- one link: dial, log in, serve until it is lost or the client stops ---

/** Dials and logs in (REGISTER first if still asked for); `link` learns the connection and the resume cursor. */
const dialAndLogin = (
  c: Parts,
  frames: ReturnType<typeof onFrame>,
  session: number,
  link: { conn?: Connection.Connection; resumeAfter?: number | undefined }
) =>
  Effect.gen(function*() {
    const { options, shared } = c
    const conn = yield* Connection.open(options, frames(session, link, () => link.resumeAfter))
    link.conn = conn
    yield* move(c.state, ConnectionEvent.TcpEstablished()).pipe(Effect.orDie)
    const hello = yield* conn.hello
    shared.maxTextChars = hello.limits.max_text_chars
    shared.features = hello.features ?? []
    let nameTaken = false
    if (shared.registerPending) {
      if (options.password === undefined) {
        return yield* new LoginRejected({ code: "AUTH_FAILED", reason: "--register needs a password" })
      }
      nameTaken = (yield* Login.register(conn, options.username, options.password, c.authTimeout)) === "taken"
    }
    link.resumeAfter = c.inbox.cursor()
    const { reply: connected, via } = yield* Login.login(conn, {
      username: options.username,
      password: options.password,
      token: shared.token,
      resumeAfter: link.resumeAfter,
      nameTaken,
      rooms: options.rooms === true,
      timeout: c.authTimeout
    })
    return { _tag: "LoggedIn", conn, connected, via } as const
  })

/** Records a successful login and sends everything not yet ACKed, in order, before any new send. */
const loggedIn = (c: Parts, conn: Connection.Connection, connected: Connected, via: "password" | "token") =>
  Effect.gen(function*() {
    c.shared.registerPending = false
    c.shared.token = connected.token
    c.shared.me = connected.user
    yield* SubscriptionRef.set(c.online, [...connected.online].sort())
    yield* SubscriptionRef.set(c.joinedRooms, connected.rooms ?? [])
    yield* SubscriptionRef.set(c.admin, connected.admin === true)
    const now = yield* Clock.currentTimeMillis
    yield* move(
      c.state,
      ConnectionEvent.Authenticated({ user: connected.user, sessionId: connected.session_id, at: now, via })
    ).pipe(Effect.orDie)
    yield* c.sendLock.withPermits(1)(Effect.sync(() => {
      for (const entry of c.outbox.pending()) conn.write(msgCommand(entry))
      c.shared.live = conn
    }))
  })

const attempt = (c: Parts, frames: ReturnType<typeof onFrame>) =>
(
  session: number,
  backoff: Backoff.Backoff<ConnectionLost | LoginRejected>,
  current: Run
) =>
  Effect.scoped(Effect.gen(function*() {
    const link: { conn?: Connection.Connection; resumeAfter?: number | undefined } = {}
    const stopped = Deferred.await(current.stop).pipe(Effect.as({ _tag: "Stopped" } as const))

    const first = yield* Effect.raceFirst(dialAndLogin(c, frames, session, link), stopped)
    if (first._tag === "Stopped") return first satisfies Outcome
    const { conn, connected, via } = first
    yield* backoff.reset
    yield* loggedIn(c, conn, connected, via)
    if (link.resumeAfter === undefined) c.inbox.offer({ _tag: "Baseline", conn })
    Deferred.unsafeDone(current.firstLogin, Exit.succeed(connected))

    const end = yield* Effect.raceFirst(
      Effect.map(conn.closed, (error) => ({ _tag: "Lost", error }) as const),
      stopped
    ).pipe(Effect.ensuring(Effect.sync(() => {
      if (c.shared.live === conn) c.shared.live = undefined
    })))
    if (end._tag === "Stopped") {
      yield* move(c.state, ConnectionEvent.DisconnectRequested({ reason: undefined })).pipe(Effect.orDie)
      yield* conn.goodbye
    }
    return end satisfies Outcome
  }))

// --- the supervisor: links one after another on the backoff, until stopped or refused ---

const finish = (c: Parts, current: Run, reason: string | undefined) =>
  Effect.gen(function*() {
    const now = yield* SubscriptionRef.get(c.state)
    if (now._tag !== "Disconnecting") {
      yield* move(c.state, ConnectionEvent.DisconnectRequested({ reason })).pipe(Effect.orDie)
    }
    const stopped = new ClientStopped({ reason: reason ?? "the client disconnected" })
    c.outbox.rejectAll(stopped)
    Deferred.unsafeDone(current.firstLogin, Exit.fail(stopped))
    yield* move(c.state, ConnectionEvent.CleanupComplete()).pipe(Effect.orDie)
  })

const supervise = (c: Parts, current: Run) =>
  Effect.gen(function*() {
    const backoff = yield* Backoff.make(Backoff.reconnectSchedule(isRetryable, c.options.backoff))
    const link = attempt(c, onFrame(c))
    yield* move(c.state, ConnectionEvent.ConnectRequested()).pipe(Effect.orDie)
    let session = 0
    while (true) {
      session++
      const outcome = yield* Effect.either(link(session, backoff, current))
      if (Either.isRight(outcome) && outcome.right._tag === "Stopped") return yield* finish(c, current, undefined)
      const error = Either.isLeft(outcome)
        ? outcome.left
        : (outcome.right as Extract<Outcome, { _tag: "Lost" }>).error
      if (error._tag === "LoginRejected") {
        Deferred.unsafeDone(current.firstLogin, Exit.fail(error))
        return yield* finish(c, current, error.reason)
      }
      if (error.revoked === true) return yield* finish(c, current, error.reason)
      const delay = yield* backoff.next(error)
      if (Option.isNone(delay)) return yield* finish(c, current, error.reason)
      const wait = Math.max(Duration.toMillis(delay.value), error.retryAfterMs ?? 0)
      const now = yield* Clock.currentTimeMillis
      yield* move(c.state, ConnectionEvent.LinkFailed({ error: error.reason, retryAt: now + wait }))
        .pipe(Effect.orDie)
      const stop = yield* Effect.raceFirst(
        Effect.as(Effect.sleep(Duration.millis(wait)), false),
        Effect.as(Deferred.await(current.stop), true)
      )
      if (stop) return yield* finish(c, current, undefined)
      yield* move(c.state, ConnectionEvent.Retry()).pipe(Effect.orDie)
    }
  })

const makeConnect = (c: Parts) =>
  Effect.gen(function*() {
    let current = c.shared.run
    if (current === undefined) {
      const started: Run = {
        stop: Deferred.unsafeMake<void>(FiberId.none),
        firstLogin: Deferred.unsafeMake<Connected, LoginRejected | ClientStopped>(FiberId.none),
        fiber: undefined
      }
      c.shared.run = current = started
      started.fiber = yield* supervise(c, started).pipe(
        Effect.ensuring(Effect.sync(() => {
          if (c.shared.run === started) c.shared.run = undefined
        })),
        Effect.forkIn(c.scope)
      )
    }
    return yield* Deferred.await(current.firstLogin)
  })

const makeDisconnect = (c: Parts) =>
  Effect.suspend(() => {
    const current = c.shared.run
    if (current === undefined) return Effect.void
    Deferred.unsafeDone(current.stop, Exit.void)
    return current.fiber === undefined ? Effect.void : Effect.asVoid(Fiber.await(current.fiber))
  })

// --- requests answered on the live link ---

const makeRequests = (c: Parts) => {
  const liveConnection = Effect.suspend(() =>
    c.shared.live !== undefined
      ? Effect.succeed(c.shared.live)
      : Effect.flatMap(SubscriptionRef.get(c.state), (s) => Effect.fail(new NotConnected({ state: s._tag })))
  )
  const request = <A>(
    what: string,
    command: Connection.Outgoing,
    accept: (frame: ServerFrame) => A | undefined
  ): Effect.Effect<A, RequestError> =>
    Effect.gen(function*() {
      const conn = yield* liveConnection
      return yield* Reply.expect(what, yield* conn.request(command), accept)
    })
  return {
    ...Rooms.make(<A>(what: string, command: Connection.Outgoing, accept: (frame: ServerFrame) => A | undefined) =>
      Effect.suspend<A, Rooms.RoomError, never>(() => {
        const refused = noRooms(c.shared)
        return refused !== undefined ? Effect.fail(refused) : request(what, command, accept)
      })
    ),
    history: Effect.fn("ChatClient.history")(function*(query: HistoryQuery = {}) {
      const conn = yield* liveConnection
      return yield* Reply.history(conn, query)
    }),
    users: request("USERS", new Users({ command: "USERS" }, true), (f) => f.type === "USERS" ? f.online : undefined)
      .pipe(Effect.withSpan("ChatClient.users")),
    sessions: request(
      "SESSIONS",
      new Sessions({ command: "SESSIONS" }, true),
      (f) => f.type === "SESSIONS" ? f.sessions : undefined
    ).pipe(Effect.withSpan("ChatClient.sessions")),
    revoke: Effect.fn("ChatClient.revoke")(function*(which: number | "all_others") {
      const command = which === "all_others"
        ? new Revoke({ command: "REVOKE", all_others: true }, true)
        : new Revoke({ command: "REVOKE", session_id: which }, true)
      yield* request("REVOKE", command, (f) => f.type === "OK" ? true : undefined)
    }),
    markRead: Effect.fn("ChatClient.markRead")(function*(messageId: number, room?: string) {
      const read = new Read({ command: "READ", message_id: messageId }, true)
      // `room` is v1.2: the protocol's `Read` schema does not have it yet
      const command = room === undefined ? read : encoded({ ...Schema.encodeSync(Read)(read), room })
      yield* request("READ", command, (f) => f.type === "OK" ? true : undefined)
    })
  }
}

/** Builds a client; it lives as long as the scope and starts dialling on `connect`. */
export const make = (options: ChatClientOptions) =>
  Effect.gen(function*() {
    const state = yield* SubscriptionRef.make(initial)
    const online = yield* SubscriptionRef.make<ReadonlyArray<string>>([])
    const joinedRooms = yield* SubscriptionRef.make<ReadonlyArray<RoomInfo>>([])
    const admin = yield* SubscriptionRef.make(false)
    const hub = yield* Effect.acquireRelease(PubSub.unbounded<ChatEvent>(), PubSub.shutdown)
    const shared: Shared = {
      live: undefined,
      me: undefined,
      token: options.token,
      registerPending: options.register === true,
      maxTextChars: 4096,
      features: undefined,
      run: undefined
    }
    const c: Parts = {
      options,
      state,
      online,
      joinedRooms,
      admin,
      inbox: yield* Inbox.make({
        hub,
        online,
        joinedRooms,
        me: () => shared.me,
        backlog: Math.max(0, Math.min(100, options.backlog ?? 0))
      }),
      outbox: new Outbox(),
      sendLock: yield* Effect.makeSemaphore(1),
      authTimeout: Duration.decode(options.authTimeout ?? "30 seconds"),
      runtime: yield* Effect.runtime<never>(),
      scope: yield* Effect.scope,
      shared
    }
    const enqueue = makeEnqueue(c)
    const disconnect = makeDisconnect(c)
    // leaving the scope says goodbye first (finalizers run last-added first)
    yield* Effect.addFinalizer(() => disconnect)

    return ChatClient.of({
      options,
      state,
      online,
      joinedRooms,
      admin,
      events: Stream.fromPubSub(hub),
      subscribe: PubSub.subscribe(hub),
      roomEvents: Stream.filter(Stream.fromPubSub(hub), isRoomEvent),
      connect: makeConnect(c),
      send: (text, to) => Effect.flatten(enqueue(text, to)),
      enqueue,
      ...makeRequests(c),
      pending: Effect.sync(() => c.outbox.size),
      disconnect
    })
  })

/** The client service. */
export class ChatClient extends Context.Tag("@parley/client/ChatClient")<ChatClient, ChatClient.Service>() {
  /** Builds a client in the current scope. */
  static readonly make = make
  /** A layer with one client; it says goodbye to the server when the layer is released. */
  static readonly layer = (options: ChatClientOptions): Layer.Layer<ChatClient> =>
    Layer.scoped(ChatClient, make(options))
  /** The same, with the options read from `Config`. */
  static readonly layerConfig = (config: Config.Config<ChatClientOptions>) =>
    Layer.unwrapEffect(Effect.map(config, ChatClient.layer))
}
