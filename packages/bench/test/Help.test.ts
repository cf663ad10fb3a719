/**
 * `pnpm bench --help` reads as the server's and the client's do: in a pipe
 * no ANSI codes, none of @effect/cli's filler paragraphs, and the usage line
 * naming the program as it was started.
 */
import { assert, describe, it } from "@effect/vitest"
import { repoRoot } from "@parley/testkit"
import { Effect } from "effect"
import { execFile } from "node:child_process"

const help = (...args: ReadonlyArray<string>) =>
  Effect.async<string>((resume) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "packages/bench/src/bin.ts", ...args, "--help"],
      { cwd: repoRoot, env: { ...process.env, npm_lifecycle_event: "bench" } },
      (_error, stdout, stderr) => resume(Effect.succeed(stdout + stderr))
    )
  })

describe("the bench's help", () => {
  it.live("is plain text for people, its usage line as typed: pnpm bench …", () =>
    Effect.gen(function*() {
      for (const args of [[], ["rooms"]]) {
        const text = yield* help(...args)
        assert.notInclude(text, "\x1b[", "no ANSI codes in a pipe")
        assert.notInclude(text, "A user-defined piece of text.")
        assert.notInclude(text, "An integer.")
        const usage = text.split("\n").find((line) => line.startsWith("$ "))
        assert.match(usage ?? "", new RegExp(`^\\$ pnpm bench ${args.join(" ")}\\s*\\[--json\\]`), text)
      }
    }), 60_000)
})
