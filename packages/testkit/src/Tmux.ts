/**
 * A pseudo-terminal for tests: a program run in its own tmux server, with
 * keys typed into it and its screen read back as a person would see it.
 */
import { Duration, Effect, type Scope } from "effect"
import { execFileSync } from "node:child_process"
import { randomUUID } from "node:crypto"

export interface Terminal {
  /** The visible screen, one string per row, trailing blanks trimmed (colours dropped unless asked). */
  readonly screen: (options?: { readonly colors?: boolean }) => Effect.Effect<Array<string>>
  /** Types text literally (no Enter). */
  readonly type: (text: string) => Effect.Effect<void>
  /** Presses keys by tmux name: "Enter", "C-c", "C-d". */
  readonly press: (...keys: ReadonlyArray<string>) => Effect.Effect<void>
  /** Waits until the screen satisfies `check`; fails with the screen after `timeout`. */
  readonly waitFor: (
    what: string,
    check: (rows: Array<string>) => boolean,
    timeout?: Duration.DurationInput
  ) => Effect.Effect<Array<string>, Error>
  /** Whether the program has exited. */
  readonly exited: Effect.Effect<boolean>
}

/** Whether tmux can be run here. */
export const tmuxAvailable = (() => {
  try {
    execFileSync("tmux", ["-V"], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
})()

/** Runs `command` (a shell line) in a `width`×`height` terminal; the tmux server is killed with the scope. */
export const openTerminal = (
  command: string,
  options: { readonly width?: number; readonly height?: number; readonly cwd?: string } = {}
): Effect.Effect<Terminal, Error, Scope.Scope> =>
  Effect.gen(function*() {
    if (!tmuxAvailable) {
      return yield* Effect.fail(
        new Error("this test drives the program through tmux: install tmux (apt-get install tmux)")
      )
    }
    const socket = `parley-test-${randomUUID()}`
    const tmux = (...args: ReadonlyArray<string>) =>
      execFileSync("tmux", ["-L", socket, "-f", "/dev/null", ...args], { encoding: "utf8" })
    yield* Effect.acquireRelease(
      Effect.sync(() =>
        tmux(
          "new-session",
          "-d",
          "-s",
          "t",
          "-x",
          String(options.width ?? 100),
          "-y",
          String(options.height ?? 24),
          ...(options.cwd !== undefined ? ["-c", options.cwd] : []),
          // keep the pane after the program exits, so its last screen can be read
          `${command}; echo "[exited $?]"; sleep 600`
        )
      ),
      () =>
        Effect.sync(() => {
          try {
            tmux("kill-server")
          } catch {
            // already gone
          }
        })
    )
    const screen = (o: { readonly colors?: boolean } = {}) =>
      Effect.sync(() =>
        tmux("capture-pane", "-p", ...(o.colors === true ? ["-e"] : []), "-t", "t").split("\n").map((l) => l.trimEnd())
      )
    const waitFor = (
      what: string,
      check: (rows: Array<string>) => boolean,
      timeout: Duration.DurationInput = "15 seconds"
    ) =>
      Effect.gen(function*() {
        const deadline = Date.now() + Duration.toMillis(Duration.decode(timeout))
        while (true) {
          const rows = yield* screen()
          if (check(rows)) return rows
          if (Date.now() > deadline) {
            return yield* Effect.fail(new Error(`the screen never showed ${what}; it shows:\n${rows.join("\n")}`))
          }
          yield* Effect.sleep("100 millis")
        }
      })
    return {
      screen,
      type: (text) => Effect.sync(() => void tmux("send-keys", "-t", "t", "-l", text)),
      press: (...keys) => Effect.sync(() => void tmux("send-keys", "-t", "t", ...keys)),
      waitFor,
      exited: Effect.map(screen(), (rows) => rows.some((r) => /^\[exited \d+\]$/.test(r)))
    } satisfies Terminal
  })
