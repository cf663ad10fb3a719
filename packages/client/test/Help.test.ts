/**
 * `parley --help` as a person or a pipe reads it: no ANSI codes when standard
 * output is not a terminal (or NO_COLOR is set), none of @effect/cli's filler
 * paragraphs, no built-in options a chat user has no use for.
 */
import { assert, describe, it } from "@effect/vitest"
import { repoRoot } from "@parley/testkit"
import { Effect } from "effect"
import { execFile } from "node:child_process"

const help = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.async<{ readonly stdout: string; readonly stderr: string }, Error>((resume) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "packages/client/src/bin.ts", ...args],
      { cwd: repoRoot, env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => resume(error ? Effect.fail(error) : Effect.succeed({ stdout, stderr }))
    )
  })

const FILLER = [
  "A user-defined piece of text.",
  "An integer.",
  "A true or false value.",
  "This option can be set from environment variables.",
  "This argument can be set from environment variables."
]

const assertReadable = (text: string) => {
  assert.notInclude(text, "\x1b", "ANSI codes in help written to a pipe")
  for (const filler of FILLER) assert.notInclude(text, filler)
  for (const builtIn of ["--wizard", "--completions"]) assert.notInclude(text, builtIn)
}

describe("parley --help", () => {
  it.live("piped: plain text, each option once with its own description", () =>
    Effect.gen(function*() {
      const { stdout } = yield* help(["--help"])
      assertReadable(stdout)
      assert.include(stdout, "--port integer")
      assert.include(stdout, "Server port (env PARLEY_PORT")
      assert.include(stdout, "--password-file text")
      assert.include(stdout, "send [--to text]")
    }), { timeout: 90_000 })

  it.live("a subcommand's help too, and with NO_COLOR", () =>
    Effect.gen(function*() {
      const { stdout } = yield* help(["send", "--help"], { NO_COLOR: "1" })
      assertReadable(stdout)
      assert.include(stdout, "--timeout integer")
      assert.include(stdout, "Give up after this many seconds")
    }), { timeout: 90_000 })
})
