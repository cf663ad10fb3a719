/**
 * The page's one logged-in client: the same `ChatClient` the terminal program uses (reconnect
 * with backoff, the outbox, exactly-once delivery), over a WebSocket to the server that served
 * the page (`ws(s)://<location.host>/ws`). Effect stays in here: the view gets callbacks and
 * promises, and every promise rejects with an `Error` whose message is one line for a person.
 */
import {
  ChatClient,
  type ChatEvent,
  type ConnectionState,
  type RoomInfo,
  WebSocketTransport
} from "@parley/client/browser"
import { Cause, Effect, Exit, Queue, Redacted, Scope, Stream } from "effect"

/** Who logs in, and how. */
export interface Login {
  readonly username: string
  readonly password?: string | undefined
  readonly token?: string | undefined
  readonly register?: boolean | undefined
}

/** What the view is told, as it happens. */
export interface Listener {
  readonly onEvent: (event: ChatEvent) => void
  readonly onState: (state: ConnectionState) => void
  readonly onOnline: (names: ReadonlyArray<string>) => void
  readonly onRooms: (rooms: ReadonlyArray<RoomInfo>) => void
  /** Whether you are a server admin (as of the last login). */
  readonly onAdmin: (admin: boolean) => void
}

export interface Session {
  readonly client: ChatClient.Service
  /** The registered spelling, the token to keep, and this login's session id. */
  readonly user: string
  readonly token: string
  readonly sessionId: number
  /** Runs one of the client's effects; rejects with a one-line `Error`. */
  readonly run: <A, E>(effect: Effect.Effect<A, E>) => Promise<A>
  /** Says goodbye and stops everything. */
  readonly close: () => Promise<void>
}

/** `ws://host/ws` beside the page (`wss://` on an HTTPS page). */
export const socketUrl = (location: Location): string =>
  `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/ws`

/** The message of whatever an effect failed with. */
const describe = (cause: Cause.Cause<unknown>): Error => {
  const error = Cause.squash(cause)
  return new Error(error instanceof Error ? error.message : String(error))
}

const run = <A, E>(effect: Effect.Effect<A, E>): Promise<A> =>
  Effect.runPromiseExit(effect).then((exit) => {
    if (Exit.isSuccess(exit)) return exit.value
    throw describe(exit.cause)
  })

/** Logs in (registering first if asked) and starts the client; rejects when the login is refused. */
export const start = async (url: string, login: Login, listener: Listener): Promise<Session> => {
  const scope = Effect.runSync(Scope.make())
  const close = () => run(Scope.close(scope, Exit.void))
  try {
    const client = await run(Scope.extend(
      ChatClient.make({
        transport: WebSocketTransport.make(url),
        username: login.username,
        password: login.password === undefined ? undefined : Redacted.make(login.password),
        token: login.token,
        register: login.register === true,
        rooms: true,
        backoff: { base: "500 millis", cap: "10 seconds" }
      }),
      scope
    ))
    // subscribe before connecting, to miss nothing
    const events = await run(Scope.extend(client.subscribe, scope))
    const forever = <A>(stream: Stream.Stream<A>, f: (a: A) => void) =>
      Effect.runFork(Stream.runForEach(stream, (a) => Effect.sync(() => f(a))).pipe(Effect.forkIn(scope)))
    Effect.runFork(
      Queue.take(events).pipe(
        Effect.flatMap((e) => Effect.sync(() => listener.onEvent(e))),
        Effect.forever,
        Effect.forkIn(scope)
      )
    )
    forever(client.state.changes, listener.onState)
    forever(client.online.changes, listener.onOnline)
    forever(client.joinedRooms.changes, listener.onRooms)
    forever(client.admin.changes, listener.onAdmin)
    const connected = await run(client.connect)
    return { client, user: connected.user, token: connected.token, sessionId: connected.session_id, run, close }
  } catch (error) {
    await close()
    throw error
  }
}
