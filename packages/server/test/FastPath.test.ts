/**
 * The MSG fast path runs in the socket's data handler. If it throws, it may
 * have half run (a flood-control token taken, the message queued), so it
 * must not be run a second time by the worker (that could store the message
 * twice): the frame is answered INTERNAL instead, through the same mapper as
 * any other defect. The fault is injected into the command table's `msgNow`.
 *
 * A room MSG from a member takes the fast path too (RoomFastPath.ts): that
 * is seen by taking the membership out of the database behind the server's
 * back, which only the slow path would notice. Every moderation that ends
 * the right to send (MUTE, KICK, BAN, and a ban outliving its holder's admin
 * status) still refuses the very next MSG, over real TCP on a real server.
 */
import { assert, describe, it } from "@effect/vitest"
import { type Cause, Effect } from "effect"
import type { Commands } from "../src/Command.ts"
import type { Connection } from "../src/Connection.ts"
import { fastPath, handleEvent } from "../src/Server.ts"
import { launchServer } from "./support/InProcessServer.ts"
import { testDb } from "./support/ServerProcess.ts"
import { withDatabase } from "./support/SqliteFile.ts"
import { contractTimeout } from "./support/TestServer.ts"
import { logIn, PASSWORD, register, say, type Wire } from "./support/Wire.ts"

/** Registers `name` and logs in with rooms enabled. */
const member = (port: number, name: string) =>
  Effect.zipRight(register(port, name), logIn(port, name, { password: PASSWORD, rooms: true }))

const ask = (wire: Wire, frame: Record<string, unknown>) => wire.ask(frame, "OK")

const refused = (wire: Wire, frame: Record<string, unknown>, code: string) =>
  Effect.zipRight(wire.send(frame), wire.replyError(code))

/** Runs one statement on the server's database from outside. */
const outOfBand = (db: string, statement: string) => withDatabase(db, (sql) => sql.unsafe(statement)).pipe(Effect.orDie)

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

describe("the room MSG fast path", { timeout: contractTimeout }, () => {
  it.scoped("a member's MSG to a room is answered from memory, stored with the room, and delivered", () =>
    Effect.gen(function*() {
      const { db, port } = yield* launchServer()
      const { wire: alice } = yield* member(port, "alice")
      const { wire: bob } = yield* member(port, "bob")
      yield* alice.ask({ command: "ROOM_CREATE", room: "Lobby", visibility: "public" }, "ROOM")
      yield* bob.ask({ command: "JOIN", room: "lobby" }, "ROOM")
      // the first MSG to the room takes the slow path and teaches the server the name
      yield* say(bob, "first", { room: "lobby" })
      assert.strictEqual((yield* alice.reply("MESSAGE")).text, "first")
      // behind the server's back bob is no longer a member: only the database would refuse now
      yield* outOfBand(db, "DELETE FROM room_members WHERE user_id = (SELECT id FROM users WHERE username = 'bob')")
      const ack = yield* say(bob, "second", { room: "LOBBY", client_msg_id: "c-2" })
      assert.strictEqual(ack.client_msg_id, "c-2")
      const message = yield* alice.reply("MESSAGE")
      assert.deepStrictEqual(
        [message.message_id, message.from, message.room, message.to, message.text],
        [ack.message_id, "bob", "Lobby", null, "second"]
      )
      const stored = yield* withDatabase(db, (sql) =>
        sql<{ room: string | null; receiver_id: number | null }>`
          SELECT r.name AS room, m.receiver_id FROM messages m LEFT JOIN rooms r ON r.id = m.room_id
          WHERE m.id = ${ack.message_id as number}`).pipe(Effect.orDie)
      assert.deepStrictEqual(stored.map((r) => [r.room, r.receiver_id]), [["Lobby", null]])
      // the same client_msg_id again is the same message, not a second one
      const again = yield* say(bob, "second", { room: "lobby", client_msg_id: "c-2" })
      assert.strictEqual(again.message_id, ack.message_id)
    }))

  it.scoped("MUTE, KICK and BAN refuse the member's very next MSG to the room; UNMUTE lets it through", () =>
    Effect.gen(function*() {
      const { port } = yield* launchServer()
      const { wire: alice } = yield* member(port, "alice")
      const { wire: bob } = yield* member(port, "bob")
      yield* alice.ask({ command: "ROOM_CREATE", room: "den", visibility: "private" }, "ROOM")
      yield* ask(alice, { command: "INVITE", room: "den", user: "bob" })
      yield* bob.ask({ command: "JOIN", room: "den" }, "ROOM")
      yield* say(bob, "hello", { room: "den" })
      yield* say(bob, "again", { room: "den" })
      yield* ask(alice, { command: "MUTE", room: "den", user: "bob" })
      yield* refused(bob, { command: "MSG", room: "den", text: "muted?" }, "MUTED")
      yield* ask(alice, { command: "UNMUTE", room: "den", user: "bob" })
      yield* say(bob, "unmuted", { room: "den" })
      yield* ask(alice, { command: "KICK", room: "den", user: "bob" })
      // a private room hides itself from someone who is no longer in it
      yield* refused(bob, { command: "MSG", room: "den", text: "kicked?" }, "NO_SUCH_ROOM")
      yield* ask(alice, { command: "INVITE", room: "den", user: "bob" })
      yield* bob.ask({ command: "JOIN", room: "den" }, "ROOM")
      yield* say(bob, "back", { room: "den" })
      yield* ask(alice, { command: "BAN", room: "den", user: "bob", duration_s: 3600 })
      yield* refused(bob, { command: "MSG", room: "den", text: "banned?" }, "NO_SUCH_ROOM")
      // in a public room the refusals name themselves
      yield* alice.ask({ command: "ROOM_CREATE", room: "hall", visibility: "public" }, "ROOM")
      yield* bob.ask({ command: "JOIN", room: "hall" }, "ROOM")
      yield* say(bob, "hi hall", { room: "hall" })
      yield* ask(alice, { command: "KICK", room: "hall", user: "bob" })
      yield* refused(bob, { command: "MSG", room: "hall", text: "kicked?" }, "NOT_MEMBER")
      yield* bob.ask({ command: "JOIN", room: "hall" }, "ROOM")
      yield* say(bob, "rejoined", { room: "hall" })
      yield* ask(alice, { command: "BAN", room: "hall", user: "bob" })
      yield* refused(bob, { command: "MSG", room: "hall", text: "banned?" }, "BANNED")
      // a deleted room is gone for the fast path too
      yield* ask(alice, { command: "ROOM_DELETE", room: "hall" })
      yield* refused(alice, { command: "MSG", room: "hall", text: "anyone?" }, "NO_SUCH_ROOM")
    }))

  it.scoped("a ban outlives its holder's admin status, and sanctions outlive a restart", () =>
    Effect.gen(function*() {
      const db = yield* testDb
      const admin = (name: string, on: boolean) =>
        outOfBand(db, `UPDATE users SET is_admin = ${on ? 1 : 0} WHERE username = '${name}'`)
      yield* Effect.scoped(Effect.gen(function*() {
        const { port } = yield* launchServer({ db })
        const { wire: alice } = yield* member(port, "alice")
        const { wire: bob } = yield* member(port, "bob")
        const { wire: carol } = yield* member(port, "carol")
        yield* alice.ask({ command: "ROOM_CREATE", room: "hall", visibility: "public" }, "ROOM")
        yield* bob.ask({ command: "JOIN", room: "hall" }, "ROOM")
        yield* carol.ask({ command: "JOIN", room: "hall" }, "ROOM")
        yield* ask(alice, { command: "BAN", room: "hall", user: "bob" })
        yield* ask(alice, { command: "MUTE", room: "hall", user: "carol" })
        // a server admin joins and sends past their ban, until the operator revokes the admin
        yield* admin("bob", true)
        yield* bob.ask({ command: "JOIN", room: "hall" }, "ROOM")
        yield* say(bob, "as admin", { room: "hall" })
        yield* say(bob, "as admin again", { room: "hall" })
        yield* admin("bob", false)
        yield* refused(bob, { command: "MSG", room: "hall", text: "and now?" }, "BANNED")
        yield* admin("bob", true)
      }))
      // a new server knows the sanctions in force from the database
      const { port } = yield* launchServer({ db })
      const { wire: bob } = yield* logIn(port, "bob", { password: PASSWORD, rooms: true })
      const { wire: carol } = yield* logIn(port, "carol", { password: PASSWORD, rooms: true })
      yield* say(bob, "as admin after the restart", { room: "hall" })
      yield* admin("bob", false)
      yield* refused(bob, { command: "MSG", room: "hall", text: "and now?" }, "BANNED")
      yield* refused(carol, { command: "MSG", room: "hall", text: "still muted?" }, "MUTED")
      yield* refused(carol, { command: "MSG", room: "hall", text: "still muted?" }, "MUTED")
    }))
})
