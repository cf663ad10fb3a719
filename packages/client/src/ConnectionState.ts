/**
 * The connection state machine of the seed's diagram 4, as data. Every change
 * of state goes through `transition`, which knows the diagram's edges and
 * rejects any other move.
 *
 *   Disconnected --connect()--> Connecting --TCP up--> Authenticating --CONNECTED--> Connected
 *   Connected --timeout/error--> Reconnecting --retry--> Connecting
 *   Connected --disconnect()--> Disconnecting --cleanup complete--> Disconnected
 *
 * The diagram draws the happy path only. Two of its arrows are read as
 * applying to every live state, because a client cannot work otherwise:
 * "Timeout/Error" also leaves Connecting and Authenticating (the TCP dial or
 * the login can fail too; both then go to Reconnecting and retry), and
 * "disconnect()" also leaves Connecting, Authenticating and Reconnecting (a
 * person may quit while the server is down; a rejected password stops the
 * client). No other edge exists: Connected is reached only through
 * Authenticating, Disconnected only through Disconnecting.
 */
import { Data, Effect, Either, SubscriptionRef } from "effect"

/** A state of the connection; `_tag` names the diagram's box. */
export type ConnectionState = Data.TaggedEnum<{
  /** Not connected. `reason` says why when the client stopped by itself (e.g. a rejected password). */
  Disconnected: { readonly reason: string | undefined }
  /** Dialling TCP; `attempt` counts dials since the last successful CONNECT. */
  Connecting: { readonly attempt: number }
  /** TCP is up; HELLO, REGISTER and CONNECT are under way. */
  Authenticating: { readonly attempt: number }
  /** Logged in as `user` in session `sessionId`, with a password or a token. */
  Connected: {
    readonly user: string
    readonly sessionId: number
    readonly since: number
    readonly via: "password" | "token"
  }
  /** The link failed with `error`; the next dial is at `retryAt` (epoch ms). */
  Reconnecting: { readonly attempt: number; readonly retryAt: number; readonly error: string }
  /** Saying goodbye: DISCONNECT sent or the dial abandoned; cleanup under way. */
  Disconnecting: { readonly reason: string | undefined }
}>

/** Constructors and matchers of `ConnectionState`. */
export const ConnectionState = Data.taggedEnum<ConnectionState>()

/** The names of the diagram's states. */
export type StateName = ConnectionState["_tag"]

/** An event that may move the machine: the labels of the diagram's arrows. */
export type ConnectionEvent = Data.TaggedEnum<{
  /** `connect()` */
  ConnectRequested: {}
  /** "retry": the backoff delay is over. */
  Retry: {}
  /** "TCP handshake success" */
  TcpEstablished: {}
  /** "CONNECT command success" */
  Authenticated: {
    readonly user: string
    readonly sessionId: number
    readonly at: number
    readonly via: "password" | "token"
  }
  /** "Timeout/Error": the link is gone; dial again at `retryAt`. */
  LinkFailed: { readonly error: string; readonly retryAt: number }
  /** "disconnect() / DISCONNECT command" (asked by the user, or the client giving up). */
  DisconnectRequested: { readonly reason: string | undefined }
  /** "cleanup complete" */
  CleanupComplete: {}
}>

/** Constructors of `ConnectionEvent`. */
export const ConnectionEvent = Data.taggedEnum<ConnectionEvent>()

/** A move the diagram does not allow. */
export class IllegalTransition extends Data.TaggedError("IllegalTransition")<{
  readonly from: StateName
  readonly event: ConnectionEvent["_tag"]
}> {
  override get message(): string {
    return `illegal transition: ${this.event} in state ${this.from}`
  }
}

const attemptOf = (state: ConnectionState): number =>
  state._tag === "Connecting" || state._tag === "Authenticating" || state._tag === "Reconnecting" ? state.attempt : 0

/** The one transition function: the next state, or the move rejected. */
export const transition = (
  state: ConnectionState,
  event: ConnectionEvent
): Either.Either<ConnectionState, IllegalTransition> => {
  const illegal = () => Either.left(new IllegalTransition({ from: state._tag, event: event._tag }))
  switch (event._tag) {
    case "ConnectRequested":
      return state._tag === "Disconnected" ? Either.right(ConnectionState.Connecting({ attempt: 1 })) : illegal()
    case "Retry":
      return state._tag === "Reconnecting"
        ? Either.right(ConnectionState.Connecting({ attempt: state.attempt + 1 }))
        : illegal()
    case "TcpEstablished":
      return state._tag === "Connecting"
        ? Either.right(ConnectionState.Authenticating({ attempt: state.attempt }))
        : illegal()
    case "Authenticated":
      return state._tag === "Authenticating"
        ? Either.right(ConnectionState.Connected({
          user: event.user,
          sessionId: event.sessionId,
          since: event.at,
          via: event.via
        }))
        : illegal()
    case "LinkFailed":
      return state._tag === "Connecting" || state._tag === "Authenticating" || state._tag === "Connected"
        ? Either.right(
          ConnectionState.Reconnecting({ attempt: attemptOf(state), retryAt: event.retryAt, error: event.error })
        )
        : illegal()
    case "DisconnectRequested":
      return state._tag === "Disconnected" || state._tag === "Disconnecting"
        ? illegal()
        : Either.right(ConnectionState.Disconnecting({ reason: event.reason }))
    case "CleanupComplete":
      return state._tag === "Disconnecting"
        ? Either.right(ConnectionState.Disconnected({ reason: state.reason }))
        : illegal()
  }
}

/** The initial state. */
export const initial: ConnectionState = ConnectionState.Disconnected({ reason: undefined })

/** Applies `event` to the state held in `ref`, failing (and leaving it unchanged) on an illegal move. */
export const move = (
  ref: SubscriptionRef.SubscriptionRef<ConnectionState>,
  event: ConnectionEvent
): Effect.Effect<ConnectionState, IllegalTransition> =>
  SubscriptionRef.modifyEffect(ref, (state) =>
    Either.match(transition(state, event), {
      onLeft: (error) => Effect.fail(error),
      onRight: (next) => Effect.succeed([next, next] as const)
    }))
