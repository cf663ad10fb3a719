/**
 * The client library against a server whose database is out for a while
 * (the SQLite file held by another process's `BEGIN EXCLUSIVE`): a send is
 * answered UNAVAILABLE, kept, and sent again with the same client_msg_id
 * after `retry_after_ms`, so once the database is back it is stored exactly
 * once and the send succeeds.
 */
import { assert, describe, it } from "@effect/vitest"
import type { Message } from "@parley/protocol"
import { spawnServer } from "@parley/testkit"
import Database from "better-sqlite3"
import { Effect, Fiber, Schedule } from "effect"
import type { ChatEvent } from "../src/ChatClient.ts"
import { clientOf, waitFor } from "./Support.ts"

describe("a database outage, as the client library sees it", () => {
  it.scopedLive(
    "send waits out UNAVAILABLE and the message is stored once when the database is back",
    () =>
      Effect.gen(function*() {
        const server = yield* spawnServer()
        const bob = yield* clientOf(server, "bob")
        const events = yield* bob.subscribe
        yield* bob.connect
        const alice = yield* clientOf(server, "alice")
        yield* alice.connect

        const other = new Database(server.db)
        yield* Effect.addFinalizer(() => Effect.sync(() => other.close()))
        other.exec("BEGIN EXCLUSIVE")
        const sending = yield* Effect.fork(alice.send("sent during the outage"))
        // the server refused it (its log says the outage began): the send is still waiting
        yield* Effect.suspend(() =>
          /storage unavailable/.test(server.output())
            ? Effect.void
            : Effect.fail(new Error(`no outage logged:\n${server.output()}`))
        ).pipe(Effect.retry({ schedule: Schedule.spaced("50 millis"), times: 200 }))
        assert.strictEqual((yield* Fiber.poll(sending))._tag, "None", "the send must still be waiting")
        other.exec("ROLLBACK")

        const ack = yield* Fiber.join(sending)
        const got = yield* waitFor(
          events,
          (e: ChatEvent): e is Message => e.type === "MESSAGE" && e.text === "sent during the outage"
        )
        assert.strictEqual(got.message_id, ack.message_id)
        const history = yield* bob.history({})
        assert.strictEqual(history.messages.filter((m) => m.text === "sent during the outage").length, 1)
      }),
    { timeout: 60_000 }
  )
})
