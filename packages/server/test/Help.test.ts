/**
 * `parley-server --help` as a person or a pipe reads it: no ANSI codes when
 * standard output is not a terminal (or NO_COLOR is set), none of
 * @effect/cli's filler paragraphs, and one `--log-level` (the server's own,
 * not @effect/cli's built-in beside it).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFile } from "node:child_process"
import { repoRoot } from "./support/ServerProcess.ts"

const help = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.async<string, Error>((resume) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "packages/server/src/bin.ts", ...args],
      { cwd: repoRoot, env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout) => resume(error ? Effect.fail(error) : Effect.succeed(stdout))
    )
  })

const FILLER = [
  "A user-defined piece of text.",
  "An integer.",
  "A true or false value.",
  "This option can be set from environment variables."
]

const assertReadable = (text: string) => {
  assert.notInclude(text, "\x1b", "ANSI codes in help written to a pipe")
  for (const filler of FILLER) assert.notInclude(text, filler)
  for (const builtIn of ["--wizard", "--completions"]) assert.notInclude(text, builtIn)
}

describe("parley-server --help", () => {
  it.live("piped: plain text, each option once with its own description", () =>
    Effect.gen(function*() {
      const text = yield* help(["--help"])
      assertReadable(text)
      assert.strictEqual(text.split("--log-level ").length - 1, 2, "one --log-level, in the usage line and in the list")
      assert.include(text, "--metrics-port integer")
      assert.include(text, "Address to listen on (env PARLEY_HOST")
    }), { timeout: 90_000 })

  it.live("copy-db's help too, with NO_COLOR", () =>
    Effect.gen(function*() {
      const text = yield* help(["copy-db", "--help"], { NO_COLOR: "1" })
      assertReadable(text)
      assert.include(text, "--from")
    }), { timeout: 90_000 })
})
