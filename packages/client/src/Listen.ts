/**
 * `parley listen`: prints every event the server sends, one per line, until
 * interrupted, reconnecting by itself and never printing a message twice.
 * With `--json` each line is the event's protocol JSON.
 */
import { Deferred, Effect, type Redacted, Stream } from "effect"
import { ChatEnded } from "./Chat.ts"
import { ChatClient } from "./ChatClient.ts"
import { reportStates } from "./StatusReport.ts"
import { colorWanted, formatMessage, formatPresence, formatReceipt, makeStyle } from "./Style.ts"
import * as TcpTransport from "./TcpTransport.ts"
import type { TlsOptions } from "./TcpTransport.ts"

/** Whom to listen as, and how to print. */
export interface ListenOptions {
  readonly host: string
  readonly port: number
  /** Speak TLS; undefined: plain TCP. */
  readonly tls?: TlsOptions | undefined
  readonly user: string
  readonly password: Redacted.Redacted<string>
  readonly register: boolean
  readonly json: boolean
}

/** Runs until interrupted (or the login is refused: `ChatEnded`). */
export const runListen = (options: ListenOptions) =>
  Effect.scoped(Effect.gen(function*() {
    const client = yield* ChatClient.make({
      transport: TcpTransport.make({ host: options.host, port: options.port, tls: options.tls }),
      username: options.user,
      password: options.password,
      register: options.register
    })
    const style = makeStyle(colorWanted(process.stdout))
    const events = yield* client.subscribe
    yield* reportStates(client, true)
    const ended = yield* Deferred.make<never, ChatEnded>()
    // a login refused later (the token and then the password rejected) ends the program too
    yield* client.state.changes.pipe(
      Stream.runForEach((s) =>
        s._tag === "Disconnected" && s.reason !== undefined
          ? Deferred.fail(ended, new ChatEnded({ reason: s.reason }))
          : Effect.void
      ),
      Effect.forkScoped
    )
    let me = options.user
    yield* client.connect.pipe(
      Effect.tap((c) => Effect.sync(() => (me = c.user))),
      Effect.catchAll((e) => Deferred.fail(ended, new ChatEnded({ reason: e.message }))),
      Effect.forkScoped
    )
    const print = Effect.gen(function*() {
      while (true) {
        const event = yield* events.take
        const line = options.json
          ? JSON.stringify(event)
          : event.type === "MESSAGE"
          ? formatMessage(style, event, me)
          : event.type === "PRESENCE"
          ? formatPresence(style, event)
          : event.type === "RECEIPT"
          ? formatReceipt(style, event, undefined)
          : event.type === "BYE"
          ? style.dim(`-- the server said goodbye${event.reason !== undefined ? ` (${event.reason})` : ""}`)
          // room events come only to a client that opted in to rooms, which this one does not
          : undefined
        if (line !== undefined) process.stdout.write(line + "\n")
      }
    })
    yield* Effect.raceFirst(print, Deferred.await(ended))
  }))
