/**
 * Server admins and locked accounts (docs/protocol.md, protocol v1.2): the
 * operator's `parley-server admin grant|revoke|list` (the real command, run
 * while the server runs on the same database), what an admin may do in
 * rooms they are not in, `general`'s moderators and mutes, and LOCK / UNLOCK
 * over real TCP.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { runServerCommand } from "./support/ServerProcess.ts"
import { contractTimeout, startServer } from "./support/TestServer.ts"
import { logIn, PASSWORD, register, say, type Wire } from "./support/Wire.ts"

const adminCommand = (...args: ReadonlyArray<string>) => runServerCommand(["admin", ...args])

/** The output's lines, without the log lines (logfmt, `timestamp=... level=...`). */
const said = (output: string) =>
  output.trim().split("\n").filter((line) => line !== "" && !line.startsWith("timestamp="))

const login = (port: number, name: string) => logIn(port, name, { password: PASSWORD, rooms: true })

const refused = (wire: Wire, frame: Record<string, unknown>, code: string) =>
  Effect.zipRight(wire.send(frame), wire.replyError(code))

describe.concurrent("server admins", { timeout: Math.max(contractTimeout, 120_000) }, () => {
  it.scopedLive("admin grant, list and revoke take effect on the running server at once", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      for (const name of ["alice", "bob"]) yield* register(server.port, name)
      const { connected: before, wire: alice } = yield* login(server.port, "alice")
      assert.notProperty(before, "admin")
      assert.strictEqual((yield* refused(alice, { command: "LOCK", user: "bob" }, "FORBIDDEN")).action, "LOCK")

      const granted = yield* adminCommand("grant", "ALICE", "--db", server.db)
      assert.deepStrictEqual([granted.code, said(granted.output)], [0, ["alice is a server admin"]])
      const listed = yield* adminCommand("list", "--db", server.db)
      assert.deepStrictEqual([listed.code, said(listed.output)], [0, ["alice"]])
      const unknown = yield* adminCommand("grant", "nobody", "--db", server.db)
      assert.notStrictEqual(unknown.code, 0)
      assert.include(unknown.output, "parley-server admin: no user named nobody")

      // without reconnecting, alice is an admin now
      yield* alice.ask({ command: "LOCK", user: "bob" }, "OK")
      yield* alice.ask({ command: "UNLOCK", user: "bob" }, "OK")
      // and her next opted-in login says so; a version 1 login (no rooms) is unchanged
      assert.strictEqual((yield* login(server.port, "alice")).connected.admin, true)
      assert.notProperty((yield* logIn(server.port, "alice")).connected, "admin")
      assert.notProperty((yield* login(server.port, "bob")).connected, "admin")

      const revoked = yield* adminCommand("revoke", "alice", "--db", server.db)
      assert.deepStrictEqual([revoked.code, said(revoked.output)], [0, ["alice is no longer a server admin"]])
      assert.deepStrictEqual(said((yield* adminCommand("list", "--db", server.db)).output), ["no server admins"])
      yield* refused(alice, { command: "LOCK", user: "bob" }, "FORBIDDEN")
      assert.notProperty((yield* login(server.port, "alice")).connected, "admin")
    }))

  it.scopedLive("LOCK ends every session with BYE locked and refuses logins; UNLOCK lets the user in again", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      for (const name of ["alice", "bob", "carol"]) yield* register(server.port, name)
      yield* adminCommand("grant", "alice", "--db", server.db)
      const { wire: alice } = yield* login(server.port, "alice")
      const { connected, wire: bob } = yield* logIn(server.port, "bob")
      const { wire: bob2 } = yield* login(server.port, "bob")
      const { wire: carol } = yield* login(server.port, "carol")

      yield* refused(carol, { command: "LOCK", user: "bob" }, "FORBIDDEN")
      yield* refused(alice, { command: "LOCK", user: "nobody" }, "UNKNOWN_USER")
      const self = yield* refused(alice, { command: "LOCK", user: "alice" }, "FORBIDDEN")
      assert.strictEqual(self.message, "an admin cannot be locked: revoke the admin first")
      yield* refused(alice, { command: "UNLOCK", user: "bob" }, "NOT_FOUND")

      yield* alice.ask({ command: "LOCK", user: "bob", reason: "spam", id: "l" }, "OK")
      for (const wire of [bob, bob2]) {
        assert.deepStrictEqual((yield* wire.until("BYE")).frame, { type: "BYE", reason: "locked" })
        yield* wire.expectClosed()
      }
      // the password is right: the message says so; a token or a wrong password reads as ever
      const byPassword = yield* logIn(server.port, "bob").pipe(Effect.flip)
      assert.include(byPassword.message, "this account is locked")
      const fresh = yield* logIn(server.port, "bob", { token: connected.token }).pipe(Effect.flip)
      assert.include(fresh.message, "unknown user or wrong password/token")
      const wrong = yield* logIn(server.port, "bob", { password: "not the password" }).pipe(Effect.flip)
      assert.include(wrong.message, "unknown user or wrong password/token")

      yield* alice.ask({ command: "UNLOCK", user: "bob" }, "OK")
      yield* logIn(server.port, "bob")
    }))

  it.scopedLive("an admin reads and moderates rooms without joining; general's moderators mute there", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      for (const name of ["alice", "bob", "carol"]) yield* register(server.port, name)
      yield* adminCommand("grant", "alice", "--db", server.db)
      const { wire: alice } = yield* login(server.port, "alice")
      const { wire: bob } = yield* login(server.port, "bob")
      const { wire: carol } = yield* login(server.port, "carol")
      yield* bob.ask({ command: "ROOM_CREATE", room: "hideout", visibility: "private" }, "ROOM")
      const secret = yield* say(bob, "secret", { room: "hideout" })
      const history = yield* alice.ask({ command: "HISTORY", room: "hideout" }, "HISTORY")
      assert.deepStrictEqual((history.messages as Array<{ message_id: number }>).map((m) => m.message_id), [
        secret.message_id
      ])
      assert.strictEqual((yield* alice.ask({ command: "MEMBERS", room: "hideout" }, "MEMBERS")).total, 1)
      yield* alice.ask({ command: "TOPIC", room: "hideout", topic: "seen" }, "OK")
      // an admin cannot be kicked, banned or muted by an owner
      yield* refused(bob, { command: "BAN", room: "hideout", user: "alice" }, "FORBIDDEN")

      // general: admins appoint its moderators, who may mute there (and only there is it checked on the fast path)
      const notAdmin = yield* refused(
        bob,
        { command: "ROLE", room: "general", user: "carol", role: "moderator" },
        "FORBIDDEN"
      )
      assert.strictEqual(notAdmin.action, "ROLE")
      yield* alice.ask({ command: "ROLE", room: "general", user: "carol", role: "moderator" }, "OK")
      const members = yield* bob.ask({ command: "MEMBERS", room: "general" }, "MEMBERS")
      assert.deepStrictEqual((members.members as Array<{ user: string; role: string }>).map((m) => [m.user, m.role]), [
        ["carol", "moderator"],
        ["alice", "member"],
        ["bob", "member"]
      ])
      yield* carol.ask({ command: "MUTE", room: "general", user: "bob" }, "OK")
      const muted = yield* refused(bob, { command: "MSG", text: "hello?" }, "MUTED")
      assert.isNull(muted.expires_at)
      yield* say(bob, "still in DMs", { to: "carol" })
      const kick = yield* refused(carol, { command: "KICK", room: "general", user: "bob" }, "FORBIDDEN")
      assert.strictEqual(kick.action, "KICK")
      yield* carol.ask({ command: "UNMUTE", room: "general", user: "bob" }, "OK")
      yield* say(bob, "hello again")
    }))
})
