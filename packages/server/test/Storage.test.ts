/**
 * The storage part of the contract, read from the SQLite file as another
 * process would while the server runs: the seed's tables and columns, WAL
 * mode, and rows that say what the wire said.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { withDatabase } from "./support/SqliteFile.ts"
import { contractTimeout, startServer } from "./support/TestServer.ts"
import { say, signUp } from "./support/Wire.ts"

const columns = (db: string, table: string) =>
  withDatabase(db, (sql) => sql<{ name: string }>`SELECT name FROM pragma_table_info(${table})`).pipe(
    Effect.map((rows) => rows.map((r) => r.name))
  )

describe.concurrent("storage", { timeout: contractTimeout }, () => {
  it.scopedLive("the seed's tables and columns are there, the file is in WAL mode, and rows match the wire", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const alice = yield* signUp(server.port, "alice")
      const bob = yield* signUp(server.port, "Bob")
      const pub = yield* say(alice.wire, "to everyone")
      const dm = yield* say(alice.wire, "to bob", { to: "bob" })
      yield* bob.wire.pick((f) => f.type === "MESSAGE" && f.message_id === dm.message_id)
      yield* bob.wire.ask({ command: "READ", message_id: dm.message_id }, "OK")

      assert.includeMembers(yield* columns(server.db, "users"), [
        "id",
        "username",
        "password_hash",
        "created_at",
        "last_login"
      ])
      assert.includeMembers(yield* columns(server.db, "messages"), [
        "id",
        "sender_id",
        "receiver_id",
        "message",
        "timestamp",
        "is_read"
      ])
      assert.includeMembers(yield* columns(server.db, "sessions"), [
        "id",
        "user_id",
        "ip_address",
        "connect_time",
        "disconnect_time"
      ])
      const [mode] = yield* withDatabase(server.db, (sql) => sql<{ journal_mode: string }>`PRAGMA journal_mode`)
      assert.strictEqual(mode!.journal_mode.toLowerCase(), "wal")

      const rows = yield* withDatabase(
        server.db,
        (sql) =>
          sql<{ id: number; sender: string; receiver: string | null; message: string; is_read: number }>`
          SELECT m.id, s.username AS sender, r.username AS receiver, m.message, m.is_read
          FROM messages m JOIN users s ON s.id = m.sender_id LEFT JOIN users r ON r.id = m.receiver_id ORDER BY m.id`
      )
      assert.deepStrictEqual(
        rows.map((r) => [r.id, r.sender, r.receiver, r.message, Boolean(r.is_read)]),
        [
          [pub.message_id, "alice", null, "to everyone", false],
          [dm.message_id, "alice", "Bob", "to bob", true]
        ]
      )
      const users = yield* withDatabase(
        server.db,
        (sql) => sql<{ username: string }>`SELECT username FROM users ORDER BY id`
      )
      assert.deepStrictEqual(users.map((u) => u.username), ["alice", "Bob"])
    }))
})
