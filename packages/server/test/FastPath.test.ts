/**
 * The MSG fast path runs in the socket's data handler. If it throws, it may
 * have half run (a flood-control token taken, the message queued), so it
 * must not be run a second time by the worker (that could store the message
 * twice): the frame is answered INTERNAL instead, through the same mapper as
 * any other defect. The fault is injected into the command table's `msgNow`.
 */
import { assert, describe, it } from "@effect/vitest"
import { type Cause, Effect } from "effect"
import type { Commands } from "../src/Command.ts"
import type { Connection } from "../src/Connection.ts"
import { fastPath, handleEvent } from "../src/Server.ts"

describe("the MSG fast path", () => {
  it.effect("a throw is answered INTERNAL once, and the handler is never run a second time", () =>
    Effect.gen(function*() {
      let fastRuns = 0
      let handlerRuns = 0
      const failures: Array<Cause.Cause<unknown>> = []
      const commands = {
        msgNow: () => {
          fastRuns++
          throw new Error("injected: half run")
        },
        table: { MSG: { access: "member", handle: () => Effect.sync(() => void handlerRuns++) } },
        failure: (cause: Cause.Cause<unknown>, command: { readonly id?: unknown }) =>
          Effect.sync(() => {
            failures.push(cause)
            return {
              type: "ERROR" as const,
              code: "INTERNAL" as const,
              message: "the server failed to handle this request",
              id: command.id
            }
          })
      } as unknown as Commands
      const sent: Array<unknown> = []
      const conn = {
        closing: undefined,
        auth: { userId: 1, username: "alice", sessionId: 1 },
        send: (f: unknown) => void sent.push(f)
      } as unknown as Connection

      const inbound = fastPath(commands)(
        conn,
        { _tag: "Line", text: "{\"command\":\"MSG\",\"id\":\"m1\",\"text\":\"hello\"}" } as never
      )
      assert.notStrictEqual(inbound, true)
      assert.strictEqual(typeof inbound === "object" ? inbound._tag : undefined, "Faulted")
      yield* handleEvent(commands, conn, inbound as Exclude<typeof inbound, true>)

      assert.strictEqual(fastRuns, 1)
      assert.strictEqual(handlerRuns, 0, "the MSG was run a second time")
      assert.strictEqual(failures.length, 1)
      assert.deepStrictEqual(sent, [{
        type: "ERROR",
        code: "INTERNAL",
        message: "the server failed to handle this request",
        id: "m1"
      }])
    }))
})
