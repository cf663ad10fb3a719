/**
 * `parley send`: sends one message, or each line of standard input as one
 * message, in order, and succeeds only when the server ACKed every one of
 * them, reconnecting on the way as often as it takes (or, with a timeout,
 * until the time is up).
 */
import { Duration, Effect, ExecutionStrategy, Exit, Fiber, type Redacted, Scope, Stream } from "effect"
import * as readline from "node:readline"
import { ChatEnded } from "./Chat.ts"
import { ChatClient } from "./ChatClient.ts"
import { reportStates } from "./StatusReport.ts"
import * as TcpTransport from "./TcpTransport.ts"
import type { TlsOptions } from "./TcpTransport.ts"

/** What to send, where. */
export interface SendOptions {
  readonly host: string
  readonly port: number
  /** Speak TLS; undefined: plain TCP. */
  readonly tls?: TlsOptions | undefined
  readonly user: string
  readonly password: Redacted.Redacted<string>
  readonly register: boolean
  readonly to: string | undefined
  /** The message; undefined to read standard input. */
  readonly text: string | undefined
  /** Seconds to give up after, in all (connecting, sending, waiting for ACKs); undefined: never. */
  readonly timeoutSeconds?: number | undefined
}

const stdinLines = Stream.suspend(() => {
  const rl = readline.createInterface({ input: process.stdin, terminal: false, crlfDelay: Infinity })
  return Stream.fromAsyncIterable(rl, (e) => e as Error).pipe(Stream.ensuring(Effect.sync(() => rl.close())))
})

/** Sends and waits for every ACK; fails with `ChatEnded` saying what was not sent. */
export const runSend = (options: SendOptions) => {
  // counted outside the scope, so a timeout can say how far it got
  const progress = { connected: false, total: 0, acked: 0 }
  const body = sendAll(options, progress).pipe(
    // Ctrl-C or SIGTERM: say how far it got; exit 1 unless every message was acknowledged
    Effect.onInterrupt(() =>
      Effect.sync(() => {
        process.stderr.write(`parley: interrupted: ${interruptedReport(progress)}\n`)
        if (progress.acked !== progress.total) process.exitCode = 1
      })
    )
  )
  const seconds = options.timeoutSeconds
  if (seconds === undefined) return body
  return body.pipe(
    Effect.timeoutFail({
      duration: Duration.seconds(seconds),
      onTimeout: () =>
        new ChatEnded({
          reason: `gave up after ${seconds} s (--timeout): ` +
            (!progress.connected
              ? `never logged in, nothing was sent (is the server at ${options.host}:${options.port} running?)`
              : progress.total === 0
              ? "nothing was sent"
              : `${progress.total - progress.acked} of ${progress.total} message(s) not acknowledged; ` +
                "one the server received just before it went quiet may still have been stored")
        })
    })
  )
}

const interruptedReport = (progress: { connected: boolean; total: number; acked: number }) =>
  progress.total === 0
    ? "nothing was sent"
    : progress.acked === progress.total
    ? `all ${progress.total} message(s) were acknowledged`
    : `${progress.acked} of ${progress.total} message(s) acknowledged, ${progress.total - progress.acked} not; ` +
      "one the server received just before the interruption may still have been stored"

/**
 * How long an interrupted `send` waits for the ACKs of what it already sent on a live link. Ctrl-C
 * right after the last line usually lands while the server's answers are on their way; without
 * this the report would call stored messages "not acknowledged" and exit 1. Short, so Ctrl-C still
 * ends at once for a person, and well inside the main's shutdown grace.
 */
const ACK_GRACE = Duration.seconds(1)

const sendAll = (options: SendOptions, progress: { connected: boolean; total: number; acked: number }) =>
  Effect.scoped(Effect.gen(function*() {
    const client = yield* ChatClient.make({
      transport: TcpTransport.make({ host: options.host, port: options.port, tls: options.tls }),
      username: options.user,
      password: options.password,
      register: options.register
    })
    yield* reportStates(client)
    const login = yield* Effect.fork(
      Effect.tap(client.connect, () => Effect.sync(() => void (progress.connected = true)))
    )

    const failures: Array<string> = []
    const waits: Array<Fiber.Fiber<void>> = []
    // the ACK waits live in a scope closed after the grace below (finalizers run last-added first)
    const acks = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
    yield* Effect.addFinalizer((exit) =>
      Effect.gen(function*() {
        if (!Exit.isInterrupted(exit) || progress.acked === progress.total) return
        if ((yield* client.state.get)._tag !== "Connected") return
        // finalizers run uninterruptibly: without this the timeout could not stop the wait
        yield* Effect.interruptible(Fiber.awaitAll(waits)).pipe(Effect.timeout(ACK_GRACE), Effect.ignore)
      })
    )
    let number = 0
    const post = (text: string) =>
      Effect.gen(function*() {
        const n = ++number
        if (text.trim() === "") {
          process.stderr.write(`parley: line ${n} is blank: skipped (a message needs some text)\n`)
          return
        }
        progress.total++
        const queued = yield* Effect.either(client.enqueue(text, options.to))
        if (queued._tag === "Left") {
          failures.push(`message ${n}: ${queued.left.message}`)
          return
        }
        waits.push(
          yield* queued.right.pipe(
            Effect.matchEffect({
              onFailure: (error) => Effect.sync(() => void failures.push(`message ${n}: ${error.message}`)),
              onSuccess: () => Effect.sync(() => void progress.acked++)
            }),
            // scoped, not a child of whichever fiber runs the stdin stream
            Effect.forkIn(acks)
          )
        )
      })

    if (options.text !== undefined) yield* post(options.text)
    else {
      if (process.stdin.isTTY) process.stderr.write("parley: one message per line; Ctrl-D to finish\n")
      yield* stdinLines.pipe(
        Stream.runForEach(post),
        Effect.mapError((e) => new ChatEnded({ reason: `cannot read standard input: ${e.message}` }))
      )
    }

    // a refused login ends everything; otherwise wait for every ACK
    const loginResult = yield* Effect.raceFirst(
      Effect.either(Fiber.join(login)),
      Effect.as(Fiber.awaitAll(waits), undefined)
    )
    if (loginResult !== undefined && loginResult._tag === "Left") {
      return yield* new ChatEnded({ reason: `${loginResult.left.message}; nothing was sent` })
    }
    yield* Fiber.awaitAll(waits)
    yield* client.disconnect
    if (failures.length > 0 || progress.acked !== progress.total) {
      return yield* new ChatEnded({
        reason: `${progress.total - progress.acked} of ${progress.total} message(s) not sent` +
          (failures.length > 0 ? `:\n  ${failures.join("\n  ")}` : "")
      })
    }
  }))
