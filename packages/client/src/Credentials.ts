/**
 * Who you are and your password. The password comes from `--password-file`,
 * else `PARLEY_PASSWORD`, else it is asked on the terminal without echo;
 * scripts (stdin not a terminal) must use one of the first two. Both questions
 * are `@effect/cli` prompts on the terminal below.
 */
import { Prompt } from "@effect/cli"
import { Terminal } from "@effect/platform"
import { NodeFileSystem, NodePath, NodeTerminal } from "@effect/platform-node"
import { USERNAME_PATTERN } from "@parley/protocol"
import { Data, Effect, Layer, Redacted } from "effect"
import { readFile } from "node:fs/promises"
import { colorWanted, withoutColour } from "./Style.ts"

/** No usable password; the message says how to give one. */
export class PasswordUnavailable extends Data.TaggedError("PasswordUnavailable")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

/** No username was typed (the question was cancelled). */
export class UsernameUnavailable extends Data.TaggedError("UsernameUnavailable")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

/**
 * Node's terminal for the keys (raw mode, restored when the question ends; Ctrl-C and Ctrl-D cancel
 * it), with the questions drawn on standard error, as every status line is: standard output belongs
 * to what `listen` prints, which may be a file. The prompt colours unconditionally, so its colours
 * are dropped where Parley prints none (`NO_COLOR`, `TERM=dumb`, not a terminal).
 */
const questionTerminal: Layer.Layer<Terminal.Terminal> = Layer.scoped(
  Terminal.Terminal,
  Effect.map(NodeTerminal.make(), (keys) => {
    const output = process.stderr
    const colour = colorWanted(output)
    return Terminal.Terminal.of({
      ...keys,
      columns: Effect.sync(() => output.columns ?? 0),
      rows: Effect.sync(() => output.rows ?? 0),
      isTTY: Effect.sync(() => output.isTTY === true),
      display: (text) =>
        Effect.async<void>((resume) =>
          void output.write(colour ? text : withoutColour(text), () => resume(Effect.void))
        )
    })
  })
)

// a prompt's environment also names the file system and paths, which only its file picker uses
const promptEnvironment = Layer.mergeAll(questionTerminal, NodeFileSystem.layer, NodePath.layer)

const ask = <A, E>(prompt: Prompt.Prompt<A>, cancelled: E): Effect.Effect<A, E> =>
  Prompt.run(prompt).pipe(
    // the prompt leaves the cursor on its line when cancelled; the error goes on the next one
    Effect.catchTag("QuitException", () =>
      Effect.zipRight(Effect.sync(() => process.stderr.write("\n")), Effect.fail(cancelled))),
    Effect.provide(promptEnvironment)
  )

/** Asks for the username until it is a valid one. */
export const askUsername: Effect.Effect<string, UsernameUnavailable> = ask(
  Prompt.text({
    message: "Username",
    validate: (typed) => {
      const name = typed.trim()
      return USERNAME_PATTERN.test(name) ? Effect.succeed(name) : Effect.fail("3..32 of A-Z a-z 0-9 _ -")
    }
  }),
  new UsernameUnavailable({ reason: "no username entered" })
)

/** Asks for a password without echo: `Prompt.hidden`, as `Prompt.password`'s one `*` per character tells its length. */
const askHidden = (message: string) =>
  ask(
    Prompt.hidden({
      message,
      validate: (typed) => typed === "" ? Effect.fail("type the password, or Ctrl-C to give up") : Effect.succeed(typed)
    }),
    new PasswordUnavailable({ reason: "no password entered" })
  )

/** The first line of `--password-file`. */
const readPasswordFile = (path: string): Effect.Effect<Redacted.Redacted<string>, PasswordUnavailable> =>
  Effect.gen(function*() {
    const text = yield* Effect.tryPromise({
      try: () => readFile(path, "utf8"),
      catch: (e) =>
        new PasswordUnavailable({
          reason: `cannot read --password-file ${path}: ${(e as Error).message}`
        })
    })
    // the first line, so a trailing newline from `echo` does not count
    const line = text.split(/\r?\n/)[0] ?? ""
    if (line === "") return yield* new PasswordUnavailable({ reason: `--password-file ${path} is empty` })
    return Redacted.make(line)
  })

/** The password for `user`, from the file, the environment or the terminal. */
export const resolvePassword = (options: {
  readonly user: string
  readonly passwordFile: string | undefined
  readonly register: boolean
  /** Whether asking on the terminal is possible (stdin is a TTY and not needed for input). */
  readonly canPrompt: boolean
}): Effect.Effect<Redacted.Redacted<string>, PasswordUnavailable> =>
  Effect.gen(function*() {
    if (options.passwordFile !== undefined) return yield* readPasswordFile(options.passwordFile)
    const env = process.env.PARLEY_PASSWORD
    if (env !== undefined && env !== "") return Redacted.make(env)
    if (!options.canPrompt) {
      return yield* new PasswordUnavailable({
        reason: `no password for ${options.user}: set PARLEY_PASSWORD or pass --password-file <file> ` +
          `(standard input is not a terminal, so it cannot be asked)`
      })
    }
    const first = yield* askHidden(`Password for ${options.user}`)
    if (options.register) {
      const again = yield* askHidden("Repeat it")
      if (Redacted.value(again) !== Redacted.value(first)) {
        return yield* new PasswordUnavailable({ reason: "the two passwords differ: try again" })
      }
    }
    return first
  })
