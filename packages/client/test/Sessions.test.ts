/**
 * SESSIONS and REVOKE through the client library against the real server:
 * a client lists its sessions and logs another one out; the revoked client
 * says why and does not log in again behind the user's back.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawnServer } from "@parley/testkit"
import { Effect } from "effect"
import { clientOf, illegalEdges, recordStates, waitState } from "./Support.ts"

describe("sessions from the client", () => {
  it.scopedLive(
    "sessions lists both; revoke logs the other out for good, with the reason in words",
    () =>
      Effect.gen(function*() {
        const server = yield* spawnServer()
        const laptop = yield* clientOf(server, "alice")
        const laptopLogin = yield* laptop.connect
        const phone = yield* clientOf(server, "alice", { register: false })
        const phoneStates = yield* recordStates(phone)
        const phoneLogin = yield* phone.connect

        const sessions = yield* laptop.sessions
        assert.deepStrictEqual(sessions.map((s) => [s.session_id, s.current]), [
          [laptopLogin.session_id, true],
          [phoneLogin.session_id, false]
        ])

        yield* laptop.revoke(phoneLogin.session_id)
        const ended = yield* waitState(phone, "Disconnected")
        assert.match(ended.reason ?? "", /revoked/)
        assert.notInclude(phoneStates, "Reconnecting", "a revoked client logged in again by itself")
        assert.deepStrictEqual(illegalEdges(phoneStates), [])

        // the laptop goes on, alone
        assert.deepStrictEqual((yield* laptop.sessions).map((s) => s.session_id), [laptopLogin.session_id])
        const unknown = yield* Effect.flip(laptop.revoke(phoneLogin.session_id))
        assert.strictEqual(unknown._tag === "RequestRejected" ? unknown.code : unknown._tag, "NOT_FOUND")
        yield* laptop.revoke("all_others")
      }),
    { timeout: 60_000 }
  )
})
