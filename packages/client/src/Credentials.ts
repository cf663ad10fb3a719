/**
 * Where the password comes from: `--password-file`, else `PARLEY_PASSWORD`,
 * else asked on the terminal without echo. Scripts (stdin not a terminal)
 * must use one of the first two.
 */
import { Data, Effect, Redacted } from "effect"
import { readFile } from "node:fs/promises"

/** No usable password; the message says how to give one. */
export class PasswordUnavailable extends Data.TaggedError("PasswordUnavailable")<{ readonly reason: string }> {
  override get message(): string {
    return this.reason
  }
}

/** Reads a line from the terminal without echoing it (raw mode, restored afterwards). */
const askHidden = (prompt: string): Effect.Effect<string, PasswordUnavailable> =>
  Effect.async<string, PasswordUnavailable>((resume) => {
    const input = process.stdin
    const output = process.stderr
    output.write(prompt)
    const wasRaw = input.isRaw
    input.setRawMode(true)
    input.resume()
    let buffer = ""
    const finish = (result: Effect.Effect<string, PasswordUnavailable>) => {
      input.off("data", onData)
      input.setRawMode(wasRaw)
      input.pause()
      output.write("\n")
      resume(result)
    }
    const onData = (data: Buffer) => {
      for (const ch of data.toString("utf8")) {
        if (ch === "\r" || ch === "\n") return finish(Effect.succeed(buffer))
        if (ch === "\u0003" || (ch === "\u0004" && buffer === "")) {
          return finish(Effect.fail(new PasswordUnavailable({ reason: "no password entered" })))
        }
        if (ch === "\u007f" || ch === "\b") buffer = Array.from(buffer).slice(0, -1).join("")
        else if (ch === "\u0015") buffer = "" // Ctrl-U
        else if (ch >= " ") buffer += ch
      }
    }
    input.on("data", onData)
    return Effect.sync(() => {
      input.off("data", onData)
      input.setRawMode(wasRaw)
      input.pause()
    })
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
    if (options.passwordFile !== undefined) {
      const path = options.passwordFile
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
    }
    const env = process.env.PARLEY_PASSWORD
    if (env !== undefined && env !== "") return Redacted.make(env)
    if (!options.canPrompt) {
      return yield* new PasswordUnavailable({
        reason: `no password for ${options.user}: set PARLEY_PASSWORD or pass --password-file <file> ` +
          `(standard input is not a terminal, so it cannot be asked)`
      })
    }
    const first = yield* askHidden(`Password for ${options.user}: `)
    if (first === "") return yield* new PasswordUnavailable({ reason: "no password entered" })
    if (options.register) {
      const again = yield* askHidden("Repeat it: ")
      if (again !== first) return yield* new PasswordUnavailable({ reason: "the two passwords differ: try again" })
    }
    return Redacted.make(first)
  })
