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
  type Bye,
  type Connected,
  Connect,
  History,
  type HistoryPage,
  type Message,
  Msg,
  type Presence,
  Read,
  type Receipt,
  Register,
  type ServerFrame,
  Text,
  type Truncated,
  USERNAME_PATTERN,
  Users,
  codePointLength
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
  Queue,
  Redacted,
  Runtime,
  Schema,
  type Scope,
  Stream,
  SubscriptionRef
} from "effect"
import { randomUUID } from "node:crypto"
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
import { Outbox, type OutboxEntry } from "./Outbox.ts"
import { SeenMessages } from "./SeenMessages.ts"

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
}

/** What the events stream carries: the server's unrequested frames, each MESSAGE once. */
export type ChatEvent = Message | Presence | Receipt | Bye

/** A HISTORY query: the public timeline, or the DMs `with` one user. */
export interface HistoryQuery {
  readonly with?: string | undefined
  readonly before?: number | undefined
  readonly after?: number | undefined
  readonly limit?: number | undefined
}

export declare namespace ChatClient {
  /** The client's interface. */
  export interface Service {
    readonly options: ChatClientOptions
    /** The connection state; watch `state.changes`. */
    readonly state: SubscriptionRef.SubscriptionRef<ConnectionState>
    /** Who is online (registered spellings, sorted), as of the last CONNECTED and PRESENCE. */
    readonly online: SubscriptionRef.SubscriptionRef<ReadonlyArray<string>>
    /**
     * Every MESSAGE (yours included, once ACKed), PRESENCE, RECEIPT and BYE, in
     * order, each message once. Subscribe before `connect` to miss nothing.
     */
    readonly events: Stream.Stream<ChatEvent>
    /** A queue of the events from now on, for as long as the scope lives. */
    readonly subscribe: Effect.Effect<Queue.Dequeue<ChatEvent>, never, Scope.Scope>
    /**
     * Starts the connection (reconnecting on its own from then on) and waits for
     * the first login. Fails only when the login is refused for good.
     */
    readonly connect: Effect.Effect<Connected, LoginRejected | ClientStopped>
    /** Sends a message (a DM when `to` is given) and waits for its ACK, across reconnects. */
    readonly send: (text: string, to?: string | null) => Effect.Effect<Ack, SendError>
    /**
     * Puts a message in the outbox (sent now if connected, else after the next
     * login) and returns the wait for its ACK. Messages go out in `enqueue` order.
     */
    readonly enqueue: (
      text: string,
      to?: string | null
    ) => Effect.Effect<Effect.Effect<Ack, SendError>, InvalidInput | RequestRejected>
    /** A page of history. */
    readonly history: (query?: HistoryQuery) => Effect.Effect<HistoryPage, RequestError>
    /** Who is online, asked of the server. */
    readonly users: Effect.Effect<ReadonlyArray<string>, RequestError>
    /** Marks a DM addressed to you (and every earlier one from its sender) as read. */
    readonly markRead: (messageId: number) => Effect.Effect<void, RequestError>
    /** How many sent messages still wait for their ACK. */
    readonly pending: Effect.Effect<number>
    /** Says goodbye (DISCONNECT) and stops reconnecting; unACKed sends fail with `ClientStopped`. */
    readonly disconnect: Effect.Effect<void>
  }
}

type Job =
  | {
    readonly _tag: "Frame"
    readonly frame: Message | Presence | Receipt | Bye | Truncated
    readonly session: number
    readonly conn: Connection.Connection
    readonly resumeAfter: number | undefined
  }
  | { readonly _tag: "Own"; readonly message: Message }
  | { readonly _tag: "Baseline"; readonly session: number; readonly conn: Connection.Connection }

type Outcome = { readonly _tag: "Stopped" } | { readonly _tag: "Lost"; readonly error: ConnectionLost }

interface Run {
  readonly stop: Deferred.Deferred<void>
  readonly firstLogin: Deferred.Deferred<Connected, LoginRejected | ClientStopped>
  fiber: Fiber.RuntimeFiber<void> | undefined
}

const isRetryable = (error: ConnectionLost | LoginRejected): boolean => error._tag === "ConnectionLost"

const validText = Schema.decodeUnknownEither(Text)

const errorOf = (frame: ServerFrame) => frame.type === "ERROR" ? frame : undefined

const unexpected = (what: string, frame: ServerFrame) =>
  new ConnectionLost({ reason: `unexpected ${frame.type} in reply to ${what}: is this a Parley v1 server?` })

/** Builds a client; it lives as long as the scope and starts dialling on `connect`. */
export const make = (options: ChatClientOptions) =>
  Effect.gen(function*() {
    const state = yield* SubscriptionRef.make(initial)
    const online = yield* SubscriptionRef.make<ReadonlyArray<string>>([])
    const hub = yield* Effect.acquireRelease(PubSub.unbounded<ChatEvent>(), PubSub.shutdown)
    const jobs = yield* Queue.unbounded<Job>()
    const runtime = yield* Effect.runtime<never>()
    const scope = yield* Effect.scope
    const sendLock = yield* Effect.makeSemaphore(1)
    const outbox = new Outbox()
    const seen = new SeenMessages()
    const dmPartners = new Map<string, string>()
    const authTimeout = Duration.decode(options.authTimeout ?? "30 seconds")

    let live: Connection.Connection | undefined
    let me: string | undefined
    let token = options.token
    let registerPending = options.register === true
    let maxTextChars = 4096
    let run: Run | undefined

    const notePartner = (name: string | null) => {
      if (name !== null && me !== undefined && name.toLowerCase() !== me.toLowerCase()) {
        dmPartners.set(name.toLowerCase(), name)
      }
    }

    const msgCommand = (entry: OutboxEntry) =>
      new Msg({
        command: "MSG",
        id: entry.clientMsgId,
        text: entry.text,
        ...(entry.to !== null ? { to: entry.to } : {}),
        client_msg_id: entry.clientMsgId
      }, true)

    // --- frames from the wire (called synchronously, in arrival order) ---

    const onMsgError = (frame: Extract<ServerFrame, { type: "ERROR" }>, clientMsgId: string) => {
      switch (frame.code) {
        case "RATE_LIMITED":
          Runtime.runFork(runtime)(
            Effect.sleep(Duration.millis(frame.retry_after_ms ?? 1000)).pipe(
              Effect.zipRight(sendLock.withPermits(1)(Effect.sync(() => {
                const entry = outbox.pending().find((e) => e.clientMsgId === clientMsgId)
                if (entry !== undefined && live !== undefined) live.write(msgCommand(entry))
              })))
            )
          )
          return
        case "NOT_AUTHENTICATED":
          // sent on a link that is going away: the outbox sends it again after the next login
          return
        default:
          outbox.reject(clientMsgId, new RequestRejected({ code: frame.code, reason: frame.message }))
      }
    }

    const onFrame = (session: number, holder: { conn?: Connection.Connection }, resumeAfter: () => number | undefined) =>
    (frame: ServerFrame) => {
      switch (frame.type) {
        case "ACK": {
          const key = frame.client_msg_id ?? (typeof frame.id === "string" ? frame.id : undefined)
          if (key === undefined) return
          const entry = outbox.ack(key, frame)
          if (entry === undefined || me === undefined) return
          Queue.unsafeOffer(jobs, {
            _tag: "Own",
            message: {
              type: "MESSAGE",
              message_id: frame.message_id,
              from: me,
              to: entry.to,
              text: entry.text,
              timestamp: frame.timestamp
            }
          })
          return
        }
        case "ERROR":
          if (typeof frame.id === "string") onMsgError(frame, frame.id)
          return
        case "MESSAGE":
        case "PRESENCE":
        case "RECEIPT":
        case "BYE":
        case "TRUNCATED":
          if (holder.conn !== undefined) {
            Queue.unsafeOffer(jobs, { _tag: "Frame", frame, session, conn: holder.conn, resumeAfter: resumeAfter() })
          }
          return
        default:
          return
      }
    }

    // --- the event processor: one fiber, so dedup and the cursor need no locks ---

    const abandoned = new Set<number>()

    const publishMessage = (message: Message) =>
      Effect.suspend(() => {
        if (!seen.deliver(message)) return Effect.void
        notePartner(message.from === me ? message.to : message.from)
        return PubSub.publish(hub, message)
      })

    const historyOn = (conn: Connection.Connection, query: HistoryQuery) =>
      Effect.flatMap(
        conn.request(
          new History({
            command: "HISTORY",
            ...(query.with !== undefined ? { with: query.with } : {}),
            ...(query.before !== undefined ? { before: query.before } : {}),
            ...(query.after !== undefined ? { after: query.after } : {}),
            ...(query.limit !== undefined ? { limit: query.limit } : {})
          }, true)
        ),
        (reply): Effect.Effect<HistoryPage, ConnectionLost | RequestRejected> => {
          if (reply.type === "HISTORY") return Effect.succeed(reply)
          const error = errorOf(reply)
          return error !== undefined
            ? Effect.fail(new RequestRejected({ code: error.code, reason: error.message }))
            : Effect.fail(unexpected("HISTORY", reply))
        }
      )

    // every message of one timeline with resumeAfter < id < before, oldest first
    const pageGap = (conn: Connection.Connection, withUser: string | undefined, after: number, before: number) =>
      Effect.gen(function*() {
        const out: Array<Message> = []
        let cursor = after
        while (true) {
          const page = yield* historyOn(conn, { with: withUser, after: cursor, limit: 100 })
          for (const m of page.messages) if (m.message_id < before) out.push(m)
          const last = page.messages.at(-1)
          if (!page.has_more || last === undefined || last.message_id >= before - 1) return out
          cursor = last.message_id
        }
      })

    const fillGap = (conn: Connection.Connection, resumeAfter: number | undefined, before: number) =>
      Effect.gen(function*() {
        // the server sent only the newest messages; fetch the older ones it skipped
        if (resumeAfter === undefined) return
        const found = new Map<number, Message>()
        for (const m of yield* pageGap(conn, undefined, resumeAfter, before)) found.set(m.message_id, m)
        for (const partner of dmPartners.values()) {
          const dms = yield* pageGap(conn, partner, resumeAfter, before).pipe(
            Effect.catchTag("RequestRejected", () => Effect.succeed([] as Array<Message>))
          )
          for (const m of dms) found.set(m.message_id, m)
        }
        const ordered = Array.from(found.values()).sort((a, b) => a.message_id - b.message_id)
        for (const m of ordered) yield* publishMessage(m)
      })

    const baseline = (conn: Connection.Connection) =>
      Effect.gen(function*() {
        const backlog = Math.max(0, Math.min(100, options.backlog ?? 0))
        const page = yield* historyOn(conn, { limit: Math.max(1, backlog) })
        if (backlog > 0) for (const m of page.messages) yield* publishMessage(m)
        // the newest public message marks where "now" is; an empty timeline starts at 0
        seen.advance(page.messages.at(-1)?.message_id ?? 0)
      })

    const process = (job: Job): Effect.Effect<void> => {
      switch (job._tag) {
        case "Own":
          return seen.acknowledge(job.message.message_id) ? PubSub.publish(hub, job.message) : Effect.void
        case "Baseline":
          return baseline(job.conn).pipe(Effect.catchAll(() => Effect.void))
        case "Frame": {
          if (abandoned.has(job.session)) return Effect.void
          const frame = job.frame
          switch (frame.type) {
            case "MESSAGE":
              return publishMessage(frame)
            case "TRUNCATED":
              return fillGap(job.conn, job.resumeAfter, frame.before).pipe(
                // the link died while paging: skip the rest of this session; the next resume replays it
                Effect.catchAll(() => Effect.sync(() => abandoned.add(job.session)))
              )
            case "PRESENCE":
              return SubscriptionRef.update(online, (names) => {
                const rest = names.filter((n) => n.toLowerCase() !== frame.user.toLowerCase())
                return frame.status === "online" ? [...rest, frame.user].sort() : rest
              }).pipe(Effect.zipRight(PubSub.publish(hub, frame)))
            default:
              return PubSub.publish(hub, frame)
          }
        }
      }
    }

    yield* Queue.take(jobs).pipe(
      Effect.flatMap(process),
      Effect.forever,
      Effect.forkScoped
    )

    // --- one attempt: dial, log in, stay until the link ends or a stop ---

    const expectReply = (
      conn: Connection.Connection,
      command: Connection.Outgoing,
      what: string
    ): Effect.Effect<ServerFrame, ConnectionLost> =>
      conn.request(command).pipe(
        Effect.timeoutFail({
          duration: authTimeout,
          onTimeout: () =>
            new ConnectionLost({ reason: `no reply to ${what} within ${Duration.format(authTimeout)}` })
        })
      )

    const register = (conn: Connection.Connection, password: Redacted.Redacted<string>) =>
      Effect.gen(function*() {
        const reply = yield* expectReply(
          conn,
          new Register(
            { command: "REGISTER", username: options.username, password: Redacted.value(password) },
            true
          ),
          "REGISTER"
        )
        if (reply.type === "REGISTERED") return "registered" as const
        const error = errorOf(reply)
        if (error === undefined) return yield* unexpected("REGISTER", reply)
        switch (error.code) {
          case "USERNAME_TAKEN":
            // maybe ours from an earlier run: CONNECT with the password decides
            return "taken" as const
          case "RATE_LIMITED":
            return yield* new ConnectionLost({
              reason: `the server is busy (REGISTER rate limited)`,
              retryAfterMs: error.retry_after_ms
            })
          case "INVALID_COMMAND":
            return yield* new LoginRejected({
              code: error.code,
              reason: `cannot register "${options.username}": ${error.message}. ` +
                `A username is 3..32 of A-Z a-z 0-9 _ -, a password 8..1024 characters.`
            })
          default:
            return yield* new LoginRejected({ code: error.code, reason: `cannot register: ${error.message}` })
        }
      })

    const login = (conn: Connection.Connection, resumeAfter: number | undefined, nameTaken: boolean) =>
      Effect.gen(function*() {
        const base = {
          command: "CONNECT" as const,
          username: options.username,
          ...(resumeAfter !== undefined ? { resume_after: resumeAfter } : {})
        }
        if (token !== undefined) {
          const reply = yield* expectReply(conn, new Connect({ ...base, token }, true), "CONNECT")
          if (reply.type === "CONNECTED") return { reply, via: "token" as const }
          const error = errorOf(reply)
          if (error === undefined) return yield* unexpected("CONNECT", reply)
          if (error.code === "RATE_LIMITED") {
            return yield* new ConnectionLost({
              reason: "the server is busy (CONNECT rate limited)",
              retryAfterMs: error.retry_after_ms
            })
          }
          // expired or forgotten (a new database): log in with the password instead
          token = undefined
        }
        if (options.password === undefined) {
          return yield* new LoginRejected({
            code: "AUTH_FAILED",
            reason: "the server no longer accepts this session's token and no password was given: log in again"
          })
        }
        const reply = yield* expectReply(
          conn,
          new Connect({ ...base, password: Redacted.value(options.password) }, true),
          "CONNECT"
        )
        if (reply.type === "CONNECTED") return { reply, via: "password" as const }
        const error = errorOf(reply)
        if (error === undefined) return yield* unexpected("CONNECT", reply)
        switch (error.code) {
          case "AUTH_FAILED":
            return yield* new LoginRejected({
              code: error.code,
              reason: nameTaken
                ? `the username "${options.username}" is taken by someone else: choose another --user`
                : `login refused for "${options.username}": wrong username or password ` +
                  `(new here? add --register to create the account)`
            })
          case "RATE_LIMITED":
            return yield* new ConnectionLost({
              reason: "the server is busy (CONNECT rate limited)",
              retryAfterMs: error.retry_after_ms
            })
          case "INVALID_COMMAND":
            return yield* new LoginRejected({
              code: error.code,
              reason: `the server refused the login: ${error.message}`
            })
          default:
            return yield* new ConnectionLost({ reason: `CONNECT failed: ${error.code} ${error.message}` })
        }
      })

    const attempt = (session: number, backoff: Backoff.Backoff<ConnectionLost | LoginRejected>, current: Run) =>
      Effect.scoped(Effect.gen(function*() {
        const holder: { conn?: Connection.Connection } = {}
        let resumeAfter: number | undefined
        const stopped = Deferred.await(current.stop).pipe(Effect.as({ _tag: "Stopped" } as const))

        const dialAndLogin = Effect.gen(function*() {
          const conn = yield* Connection.open(options, onFrame(session, holder, () => resumeAfter))
          holder.conn = conn
          yield* move(state, ConnectionEvent.TcpEstablished()).pipe(Effect.orDie)
          const hello = yield* conn.hello
          maxTextChars = hello.limits.max_text_chars
          let nameTaken = false
          if (registerPending) {
            if (options.password === undefined) {
              return yield* new LoginRejected({ code: "AUTH_FAILED", reason: "--register needs a password" })
            }
            nameTaken = (yield* register(conn, options.password)) === "taken"
          }
          resumeAfter = seen.cursor
          const { reply: connected, via } = yield* login(conn, resumeAfter, nameTaken)
          return { _tag: "LoggedIn", conn, connected, via } as const
        })

        const first = yield* Effect.raceFirst(dialAndLogin, stopped)
        if (first._tag === "Stopped") return first satisfies Outcome
        const { conn, connected, via } = first

        registerPending = false
        token = connected.token
        me = connected.user
        yield* SubscriptionRef.set(online, [...connected.online].sort())
        yield* backoff.reset
        const now = yield* Clock.currentTimeMillis
        yield* move(state, ConnectionEvent.Authenticated({
          user: connected.user,
          sessionId: connected.session_id,
          at: now,
          via
        }))
          .pipe(Effect.orDie)
        // everything not yet ACKed goes again, in order, before any new send
        yield* sendLock.withPermits(1)(Effect.sync(() => {
          for (const entry of outbox.pending()) conn.write(msgCommand(entry))
          live = conn
        }))
        if (resumeAfter === undefined) Queue.unsafeOffer(jobs, { _tag: "Baseline", session, conn })
        Deferred.unsafeDone(current.firstLogin, Exit.succeed(connected))

        const end = yield* Effect.raceFirst(
          Effect.map(conn.closed, (error) => ({ _tag: "Lost", error }) as const),
          stopped
        ).pipe(Effect.ensuring(Effect.sync(() => {
          if (live === conn) live = undefined
        })))
        if (end._tag === "Stopped") {
          yield* move(state, ConnectionEvent.DisconnectRequested({ reason: undefined })).pipe(Effect.orDie)
          yield* conn.goodbye
        }
        return end satisfies Outcome
      }))

    const finish = (current: Run, reason: string | undefined) =>
      Effect.gen(function*() {
        const now = yield* SubscriptionRef.get(state)
        if (now._tag !== "Disconnecting") {
          yield* move(state, ConnectionEvent.DisconnectRequested({ reason })).pipe(Effect.orDie)
        }
        const stopped = new ClientStopped({ reason: reason ?? "the client disconnected" })
        outbox.rejectAll(stopped)
        Deferred.unsafeDone(current.firstLogin, Exit.fail(stopped))
        yield* move(state, ConnectionEvent.CleanupComplete()).pipe(Effect.orDie)
      })

    const supervise = (current: Run) =>
      Effect.gen(function*() {
        const backoff = yield* Backoff.make(Backoff.reconnectSchedule(isRetryable, options.backoff))
        yield* move(state, ConnectionEvent.ConnectRequested()).pipe(Effect.orDie)
        let session = 0
        while (true) {
          session++
          const outcome = yield* Effect.either(attempt(session, backoff, current))
          if (Either.isRight(outcome)) {
            if (outcome.right._tag === "Stopped") return yield* finish(current, undefined)
          }
          const error = Either.isLeft(outcome)
            ? outcome.left
            : (outcome.right as Extract<Outcome, { _tag: "Lost" }>).error
          if (error._tag === "LoginRejected") {
            Deferred.unsafeDone(current.firstLogin, Exit.fail(error))
            return yield* finish(current, error.reason)
          }
          const delay = yield* backoff.next(error)
          if (Option.isNone(delay)) return yield* finish(current, error.reason)
          const wait = Math.max(Duration.toMillis(delay.value), error.retryAfterMs ?? 0)
          const now = yield* Clock.currentTimeMillis
          yield* move(state, ConnectionEvent.LinkFailed({ error: error.reason, retryAt: now + wait }))
            .pipe(Effect.orDie)
          const stop = yield* Effect.raceFirst(
            Effect.as(Effect.sleep(Duration.millis(wait)), false),
            Effect.as(Deferred.await(current.stop), true)
          )
          if (stop) return yield* finish(current, undefined)
          yield* move(state, ConnectionEvent.Retry()).pipe(Effect.orDie)
        }
      })

    // --- the public interface ---

    const connect = Effect.gen(function*() {
      let current = run
      if (current === undefined) {
        const started: Run = {
          stop: Deferred.unsafeMake<void>(FiberId.none),
          firstLogin: Deferred.unsafeMake<Connected, LoginRejected | ClientStopped>(FiberId.none),
          fiber: undefined
        }
        run = current = started
        started.fiber = yield* supervise(started).pipe(
          Effect.ensuring(Effect.sync(() => {
            if (run === started) run = undefined
          })),
          Effect.forkIn(scope)
        )
      }
      return yield* Deferred.await(current.firstLogin)
    })

    const disconnect = Effect.suspend(() => {
      const current = run
      if (current === undefined) return Effect.void
      Deferred.unsafeDone(current.stop, Exit.void)
      return current.fiber === undefined ? Effect.void : Effect.asVoid(Fiber.await(current.fiber))
    })

    const liveConnection = Effect.suspend(() =>
      live !== undefined
        ? Effect.succeed(live)
        : Effect.flatMap(SubscriptionRef.get(state), (s) => Effect.fail(new NotConnected({ state: s._tag })))
    )

    const enqueue = Effect.fn("ChatClient.enqueue")(function*(text: string, to?: string | null) {
      const valid = validText(text)
      if (Either.isLeft(valid)) {
        return yield* new InvalidInput({
          reason: text.trim().length === 0
            ? "a message cannot be empty"
            : `a message must be 1..${maxTextChars} characters; well-formed text`
        })
      }
      if (codePointLength(text) > maxTextChars) {
        return yield* new InvalidInput({
          reason: `a message must be at most ${maxTextChars} characters (this one has ${codePointLength(text)})`
        })
      }
      if (to !== undefined && to !== null && !USERNAME_PATTERN.test(to)) {
        return yield* new RequestRejected({ code: "UNKNOWN_USER", reason: `no user named "${to}"` })
      }
      const entry: OutboxEntry = {
        clientMsgId: randomUUID(),
        text,
        to: to ?? null,
        done: yield* Deferred.make<Ack, SendError>()
      }
      yield* sendLock.withPermits(1)(Effect.sync(() => {
        outbox.add(entry)
        if (live !== undefined) live.write(msgCommand(entry))
      }))
      return Deferred.await(entry.done)
    })

    const send = (text: string, to?: string | null) => Effect.flatten(enqueue(text, to))

    const request = <A>(what: string, command: Connection.Outgoing, accept: (frame: ServerFrame) => A | undefined) =>
      Effect.gen(function*() {
        const conn = yield* liveConnection
        const reply = yield* conn.request(command)
        const value = accept(reply)
        if (value !== undefined) return value
        const error = errorOf(reply)
        return yield* error !== undefined
          ? Effect.fail(new RequestRejected({ code: error.code, reason: error.message }))
          : Effect.fail(unexpected(what, reply))
      })

    const history = Effect.fn("ChatClient.history")(function*(query: HistoryQuery = {}) {
      const conn = yield* liveConnection
      return yield* historyOn(conn, query)
    })

    const users = request("USERS", new Users({ command: "USERS" }, true), (f) => f.type === "USERS" ? f.online : undefined)
      .pipe(Effect.withSpan("ChatClient.users"))

    const markRead = Effect.fn("ChatClient.markRead")(function*(messageId: number) {
      yield* request("READ", new Read({ command: "READ", message_id: messageId }, true), (f) =>
        f.type === "OK" ? true : undefined)
    })

    return ChatClient.of({
      options,
      state,
      online,
      events: Stream.fromPubSub(hub),
      subscribe: PubSub.subscribe(hub),
      connect,
      send,
      enqueue,
      history,
      users,
      markRead,
      pending: Effect.sync(() => outbox.size),
      disconnect
    })
  })

/** The client service. */
export class ChatClient extends Context.Tag("@parley/client/ChatClient")<ChatClient, ChatClient.Service>() {
  /** Builds a client in the current scope. */
  static readonly make = make
  /** A layer with one client; it says goodbye to the server when the layer is released. */
  static readonly layer = (options: ChatClientOptions): Layer.Layer<ChatClient> =>
    Layer.scoped(ChatClient, Effect.tap(make(options), (client) => Effect.addFinalizer(() => client.disconnect)))
  /** The same, with the options read from `Config`. */
  static readonly layerConfig = (config: Config.Config<ChatClientOptions>) =>
    Layer.unwrapEffect(Effect.map(config, ChatClient.layer))
}
