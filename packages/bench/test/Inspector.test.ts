import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { collectGarbage, inspectorUrl } from "../src/Inspector.ts"

describe("Inspector", () => {
  it("finds the inspector's address among the lines a process printed", () => {
    const lines = [
      "Parley listening on 127.0.0.1:5555",
      "Debugger listening on ws://127.0.0.1:40123/6f1c-aa",
      "For help, see: https://nodejs.org/en/docs/inspector"
    ]
    assert.strictEqual(inspectorUrl(lines), "ws://127.0.0.1:40123/6f1c-aa")
    assert.isUndefined(inspectorUrl(["Parley listening on 127.0.0.1:5555"]))
  })

  it.scopedLive("collects the garbage of a real Node process started with --inspect=127.0.0.1:0", () =>
    Effect.gen(function*() {
      const child = yield* Effect.acquireRelease(
        Effect.sync(() =>
          spawn(process.execPath, ["--inspect=127.0.0.1:0", "-e", "setInterval(() => {}, 1000)"], {
            stdio: ["ignore", "ignore", "pipe"]
          })
        ),
        (c) => Effect.sync(() => c.kill("SIGKILL"))
      )
      const url = yield* Effect.async<string>((resume) => {
        let text = ""
        child.stderr!.setEncoding("utf8")
        child.stderr!.on("data", (chunk: string) => {
          text += chunk
          const found = inspectorUrl(text.split("\n"))
          if (found !== undefined) resume(Effect.succeed(found))
        })
      })
      assert.match(url, /^ws:\/\/127\.0\.0\.1:\d+\//)
      yield* Effect.promise(() => collectGarbage(url, 10_000))
    }))

  it.scopedLive("fails with the address when nothing answers there", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.tryPromise(() => collectGarbage("ws://127.0.0.1:1/none", 5_000)))
      assert.instanceOf(error.error, Error)
    }))
})
