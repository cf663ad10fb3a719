/**
 * The programs' `main`: runs an effect to completion and turns SIGINT and SIGTERM
 * into one interruption, whose finalizers (BYE, `disconnect_time`, the WAL) always
 * run to the end.
 *
 * Why not `NodeRuntime.runMain`: it removes its signal handlers on the first
 * signal, so a second one takes Node's default action and kills the process in
 * the middle of its shutdown. A second signal is the normal case, not an accident:
 * Ctrl-C on `pnpm start:server` sends SIGINT to the whole foreground process group
 * (pnpm and node), and pnpm forwards its own copy to node, so node gets two, a few
 * microseconds to milliseconds apart; a supervisor that signals the process group
 * (`kill -TERM -<pgid>`, systemd's `KillMode=control-group`) does the same. Here
 * the handlers stay installed until the process exits: later signals are noted
 * and the shutdown goes on, bounded by `graceMs`, after which the process exits 1
 * saying so. A signal that arrived before this took over (see `EarlySignals`) is
 * acted on at once.
 */
import { makeRunMain } from "@effect/platform/Runtime"
import { Cause, type Effect, Exit } from "effect"
import { releaseEarlySignals } from "./EarlySignals.ts"

export interface RunMainOptions {
  /** The program's name, for the lines it prints on standard error. */
  readonly name: string
  /** Longest shutdown after the first signal before the process exits 1 regardless. */
  readonly graceMs: number
  /**
   * Said once on standard error when another signal arrives during the
   * shutdown (a copy forwarded within a moment of the first is not mentioned).
   */
  readonly stillStopping?: string
  /** Effect's pretty logger for log lines (off: the logger the effect provides). */
  readonly prettyLogger?: boolean
  /**
   * SIGHUP is the program's own business (the server reloads its certificate
   * on it): it never stops the process, even before or after the program's own
   * handler is installed. Off: a SIGHUP while loading stops the program like
   * SIGINT, and later ones take Node's default action (exit).
   */
  readonly keepOnHangup?: boolean
}

/** A copy of the first signal forwarded by a parent (pnpm, npm) lands within this. */
const FORWARDED_COPY_MS = 500

const SIGNALS = ["SIGINT", "SIGTERM"] as const

const ignoreHangup = () => {}

/** Exit status: 0 for success or an interruption (a signal), 1 for a failure or a defect. */
export const exitCode = <E, A>(exit: Exit.Exit<A, E>): number =>
  Exit.isSuccess(exit) || Cause.isInterruptedOnly(exit.cause) ? 0 : 1

/** Runs `effect` as the process's main fiber; never returns. */
export const runMain = <E, A>(effect: Effect.Effect<A, E>, options: RunMainOptions): void =>
  makeRunMain(({ fiber }) => {
    // the fiber alone keeps no handle open while it waits on a timer-less effect
    const keepAlive = setInterval(() => {}, 2 ** 31 - 1)
    let firstSignalAt: number | undefined
    let toldStillStopping = false

    const onSignal = (signal: NodeJS.Signals) => {
      const now = Date.now()
      if (firstSignalAt === undefined) {
        firstSignalAt = now
        fiber.unsafeInterruptAsFork(fiber.id())
        setTimeout(() => {
          process.stderr.write(
            `${options.name}: still stopping ${options.graceMs / 1000} s after ${signal}; exiting now\n`
          )
          process.exit(1)
        }, options.graceMs).unref()
        return
      }
      if (toldStillStopping || now - firstSignalAt < FORWARDED_COPY_MS) return
      toldStillStopping = true
      if (options.stillStopping !== undefined) process.stderr.write(`${options.name}: ${options.stillStopping}\n`)
    }
    for (const signal of SIGNALS) process.on(signal, onSignal)
    // any handler at all replaces Node's default action for SIGHUP, which is to exit
    if (options.keepOnHangup === true) process.on("SIGHUP", ignoreHangup)
    // a signal while the program was still loading: stop now, the way any other would
    for (const signal of releaseEarlySignals()) {
      if (signal !== "SIGHUP" || options.keepOnHangup !== true) onSignal(signal)
    }

    fiber.addObserver((exit) => {
      clearInterval(keepAlive)
      // a program whose interruption is a failure (`parley send` cut short) sets process.exitCode
      const code = exitCode(exit) === 0 && typeof process.exitCode === "number" ? process.exitCode : exitCode(exit)
      // after a signal, exit at once rather than wait for handles a library left open
      if (firstSignalAt !== undefined || code !== 0) process.exit(code)
    })
  })(effect, { disableErrorReporting: true, disablePrettyLogger: options.prettyLogger !== true })
