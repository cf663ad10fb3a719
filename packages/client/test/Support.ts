/**
 * Shared test helpers: clients of a test server and waiting on their events.
 */
import type { ServerProcess } from "@parley/testkit"
import { Duration, Effect, Queue, Redacted, type Scope, Stream } from "effect"
import { ChatClient, type ChatClientOptions, type ChatEvent } from "../src/ChatClient.ts"
import type { ConnectionState, StateName } from "../src/ConnectionState.ts"
import * as TcpTransport from "../src/TcpTransport.ts"
import type { TlsOptions } from "../src/TcpTransport.ts"

export const passwordOf = (user: string) => `password-of-${user}`

/** A client of `server` that registers `user` (password `password-of-<user>`) on first login. */
export const clientOf = (
  server: Pick<ServerProcess, "host" | "port">,
  user: string,
  { port, tls, ...options }: Partial<ChatClientOptions> & { readonly port?: number; readonly tls?: TlsOptions } = {}
) =>
  ChatClient.make({
    transport: TcpTransport.make({ host: server.host, port: port ?? server.port, tls }),
    username: user,
    password: Redacted.make(passwordOf(user)),
    register: true,
    backoff: { base: "100 millis", cap: "1 second" },
    ...options
  })

/** Takes events until one matches (failing after `timeout`). */
export const waitFor = <A extends ChatEvent>(
  queue: Queue.Dequeue<ChatEvent>,
  predicate: (event: ChatEvent) => event is A,
  timeout: Duration.DurationInput = "10 seconds"
): Effect.Effect<A, Error> =>
  Effect.gen(function*() {
    while (true) {
      const event = yield* Queue.take(queue)
      if (predicate(event)) return event
    }
  }).pipe(
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () => new Error(`no matching event within ${Duration.format(Duration.decode(timeout))}`)
    })
  )

/**
 * A barrier for "nothing more will come": `sender` sends a public message,
 * and the events `queue` receives before it are returned. Messages reach a
 * client in message_id order, so a message stored or shown twice would be
 * among them.
 */
export const eventsBefore = (sender: ChatClient.Service, queue: Queue.Dequeue<ChatEvent>, text = "the barrier") =>
  Effect.gen(function*() {
    yield* sender.send(text)
    const before: Array<ChatEvent> = []
    while (true) {
      const event = yield* Queue.take(queue)
      if (event.type === "MESSAGE" && event.text === text) return before
      before.push(event)
    }
  }).pipe(
    Effect.timeoutFail({ duration: "30 seconds", onTimeout: () => new Error(`the barrier "${text}" never arrived`) })
  )

/** Waits until the client is in state `name`. */
export const waitState = <N extends StateName>(
  client: ChatClient.Service,
  name: N,
  timeout: Duration.DurationInput = "10 seconds"
) =>
  client.state.changes.pipe(
    Stream.filter((s): s is Extract<ConnectionState, { _tag: N }> => s._tag === name),
    Stream.runHead,
    Effect.flatten,
    Effect.timeoutFail({ duration: timeout, onTimeout: () => new Error(`state ${name} not reached`) })
  )

/** Records every state the client goes through, from now on. */
export const recordStates = (client: ChatClient.Service): Effect.Effect<Array<StateName>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const seen: Array<StateName> = []
    yield* client.state.changes.pipe(Stream.runForEach((s) => Effect.sync(() => seen.push(s._tag))), Effect.forkScoped)
    yield* Effect.yieldNow()
    return seen
  })

/** The diagram's edges plus the ones it implies (see ConnectionState.ts). */
export const allowedEdges = new Set([
  "Disconnected->Connecting",
  "Connecting->Authenticating",
  "Authenticating->Connected",
  "Connected->Reconnecting",
  "Reconnecting->Connecting",
  "Connected->Disconnecting",
  "Disconnecting->Disconnected",
  "Connecting->Reconnecting",
  "Authenticating->Reconnecting",
  "Connecting->Disconnecting",
  "Authenticating->Disconnecting",
  "Reconnecting->Disconnecting"
])

export const illegalEdges = (states: ReadonlyArray<StateName>): Array<string> => {
  const out: Array<string> = []
  for (let i = 1; i < states.length; i++) {
    const edge = `${states[i - 1]}->${states[i]}`
    if (!allowedEdges.has(edge)) out.push(edge)
  }
  return out
}
