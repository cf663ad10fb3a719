/**
 * What `@effect/cli` prints (help, version, usage errors), made fit to read:
 * without ANSI codes when they are not wanted (not a terminal, `NO_COLOR`,
 * `TERM=dumb`), and without the filler paragraphs it adds to every option
 * whatever its description says ("A user-defined piece of text.", "This
 * option can be set from environment variables."). `@effect/cli` has no
 * setting for either: its printing goes through Effect's `Console`, so the
 * program runs its command with this `Console` instead.
 */
import { Console, Effect } from "effect"

/** Paragraphs `@effect/cli` writes for every option or argument of a kind; our descriptions say it better. */
const FILLER = new Set([
  "A user-defined piece of text.",
  "An integer.",
  "A floating point number.",
  "A true or false value.",
  "A user-defined piece of text that is confidential.",
  "This option can be set from environment variables.",
  "This argument can be set from environment variables."
])

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g

/** Colour as the stream and environment allow: https://no-color.org */
export const ansiWanted = (stream: { readonly isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean =>
  stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === "") && env.TERM !== "dumb"

/** Help text without the filler paragraphs (and the blank line after each), and without ANSI unless `ansi`. */
export const cleanCliText = (text: string, ansi: boolean): string => {
  const lines = text.split("\n")
  const kept: Array<string> = []
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    if (FILLER.has(line.replace(ANSI, "").trim())) {
      if (lines[i + 1]?.trim() === "") i++
      continue
    }
    kept.push(ansi ? line : line.replace(ANSI, ""))
  }
  return kept.join("\n")
}

const clean = (args: ReadonlyArray<unknown>, ansi: boolean) =>
  args.map((arg) => (typeof arg === "string" ? cleanCliText(arg, ansi) : arg))

/**
 * Runs `effect` (a `Command.run`) with its `Console.log`/`Console.error` cleaned as above; whether
 * ANSI is kept is decided per stream (standard output, standard error).
 */
export const withCleanCliOutput = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.console, (console) => {
    const out = ansiWanted(process.stdout)
    const err = ansiWanted(process.stderr)
    // everything else (the prompts of the wizard, `table`, ...) as the console in place does it
    const cleaned: Console.Console = Object.assign(Object.create(console) as Console.Console, {
      log: (...args: ReadonlyArray<unknown>) => console.log(...clean(args, out)),
      error: (...args: ReadonlyArray<unknown>) => console.error(...clean(args, err)),
      unsafe: Object.assign(Object.create(console.unsafe) as Console.UnsafeConsole, {
        log: (...args: ReadonlyArray<unknown>) => console.unsafe.log(...clean(args, out)),
        error: (...args: ReadonlyArray<unknown>) => console.unsafe.error(...clean(args, err))
      })
    })
    return Effect.withConsole(effect, cleaned)
  })
