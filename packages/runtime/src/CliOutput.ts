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
import * as Path from "node:path"

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

/**
 * How this program was started, as a person would type it again: `pnpm start:server` under that
 * script, the program's name when it was run by that name (a bin link on the PATH, as in the
 * Docker image), otherwise `node` with its flags and the entry's path.
 */
export const invokedAs = (
  program: string,
  script: string,
  env: NodeJS.ProcessEnv = process.env,
  argv: ReadonlyArray<string> = process.argv,
  execArgv: ReadonlyArray<string> = process.execArgv
): string => {
  if (env.npm_lifecycle_event === script) return `pnpm ${script}`
  const entry = argv[1]
  if (entry === undefined || Path.basename(entry) === program) return program
  return ["node", ...execArgv, Path.relative(process.cwd(), entry) || entry].join(" ")
}

/** A usage line (`$ parley-server …`, or a subcommand's `$ copy-db …`) as this program was started. */
const usageLine = (line: string, { invokedAs, program }: Invocation): string =>
  line.startsWith(`$ ${program} `) || line === `$ ${program}`
    ? `$ ${invokedAs}${line.slice(2 + program.length)}`
    : `$ ${invokedAs} ${line.slice(2)}`

/** A program's name and how it was started: usage lines say the latter. */
export interface Invocation {
  readonly program: string
  readonly invokedAs: string
}

/**
 * Help text without the filler paragraphs (and the blank line after each), without ANSI unless
 * `ansi`, and with usage lines (`$ parley-server …`) naming the program as it was started.
 */
export const cleanCliText = (text: string, ansi: boolean, invocation?: Invocation): string => {
  const lines = text.split("\n")
  const kept: Array<string> = []
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    if (FILLER.has(line.replace(ANSI, "").trim())) {
      if (lines[i + 1]?.trim() === "") i++
      continue
    }
    const plain = ansi ? line : line.replace(ANSI, "")
    kept.push(invocation === undefined || !plain.startsWith("$ ") ? plain : usageLine(plain, invocation))
  }
  return kept.join("\n")
}

const clean = (args: ReadonlyArray<unknown>, ansi: boolean, invocation: Invocation | undefined) =>
  args.map((arg) => (typeof arg === "string" ? cleanCliText(arg, ansi, invocation) : arg))

/**
 * Runs `effect` (a `Command.run`) with its `Console.log`/`Console.error` cleaned as above; whether
 * ANSI is kept is decided per stream (standard output, standard error).
 */
export const withCleanCliOutput =
  (invocation?: Invocation) => <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
    Effect.flatMap(Effect.console, (console) => {
      const out = ansiWanted(process.stdout)
      const err = ansiWanted(process.stderr)
      // everything else (the prompts of the wizard, `table`, ...) as the console in place does it
      const cleaned: Console.Console = Object.assign(Object.create(console) as Console.Console, {
        log: (...args: ReadonlyArray<unknown>) => console.log(...clean(args, out, invocation)),
        error: (...args: ReadonlyArray<unknown>) => console.error(...clean(args, err, invocation)),
        unsafe: Object.assign(Object.create(console.unsafe) as Console.UnsafeConsole, {
          log: (...args: ReadonlyArray<unknown>) => console.unsafe.log(...clean(args, out, invocation)),
          error: (...args: ReadonlyArray<unknown>) => console.unsafe.error(...clean(args, err, invocation))
        })
      })
      return Effect.withConsole(effect, cleaned)
    })
