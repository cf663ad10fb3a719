/**
 * `parley-server copy-db`, as an operator moves to PostgreSQL: a SQLite
 * database written by the real server over TCP, copied by the real command,
 * then served by the real server on PostgreSQL, where every account, message,
 * id, unread DM, token and client_msg_id must mean what it meant before, and
 * every room with what protocol v1.2 keeps of it. And the refusals, each in
 * one line with nothing written: a non-empty target, a URL that is not
 * PostgreSQL, a missing file, an old schema, U+0000 in a message, a row
 * PostgreSQL rejects halfway through.
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect } from "effect"
import * as Path from "node:path"
import { migrations } from "../src/Migrations.ts"
import { redactUrl } from "../src/PgDatabase.ts"
import { freshPgDatabase, postgresAvailable } from "./support/Postgres.ts"
import { runServerCommand, type ServerProcess, spawnServer, tempDb } from "./support/ServerProcess.ts"
import { everythingStored, sessions, users, withDatabase } from "./support/SqliteFile.ts"
import { type Frame, logIn, PASSWORD, say, signUp, Wire } from "./support/Wire.ts"

const CAROL_PASSWORD = "carol's own passphrase"

const idOf = (frame: Frame) => frame.message_id as number

const copyDb = (from: string, to: string) => runServerCommand(["copy-db", "--from", from, "--to", to])

/** The output's lines, without the log lines (logfmt, `timestamp=... level=...`). */
const saidLines = (output: string) =>
  output.trim().split("\n").filter((line) => line !== "" && !line.startsWith("timestamp="))

/** The PostgreSQL URL with a password in it (ignored under trust auth), to check it is never printed. */
const withPassword = (url: string) => {
  const u = new URL(url)
  if (u.password === "") u.password = "never-printed-3f9a"
  return u.toString()
}

/** Stops a server as an operator would (SIGTERM) and waits for its clean exit. */
const stop = (server: ServerProcess) =>
  Effect.gen(function*() {
    yield* server.signal("SIGTERM")
    const exit = yield* server.exited.pipe(Effect.timeout(Duration.seconds(15)))
    assert.deepStrictEqual(exit, { code: 0, signal: null }, server.output())
  })

interface Table {
  readonly name: string
  readonly query: string
}

const TABLES: ReadonlyArray<Table> = [
  { name: "users", query: "SELECT id, username, password_hash, created_at, last_login FROM users ORDER BY id" },
  { name: "tokens", query: "SELECT token_hash, user_id, created_at, expires_at FROM tokens ORDER BY token_hash" },
  {
    name: "sessions",
    query: "SELECT id, user_id, ip_address, connect_time, disconnect_time FROM sessions ORDER BY id"
  },
  {
    name: "messages",
    query: "SELECT id, sender_id, receiver_id, message, timestamp, is_read, client_msg_id FROM messages ORDER BY id"
  }
]

/** What protocol v1.2 added, every column, in a fixed order (same shape from SQLite and PostgreSQL). */
const ROOM_QUERIES = [
  "SELECT id, name, visibility, topic, created_by, created_at, deleted_at FROM rooms ORDER BY id",
  "SELECT room_id, user_id, role, read_mark, joined_at FROM room_members ORDER BY room_id, user_id",
  "SELECT room_id, user_id, invited_by, expires_at FROM room_invites ORDER BY room_id, user_id",
  "SELECT room_id, user_id, expires_at, by_id, reason, created_at FROM room_bans ORDER BY room_id, user_id",
  "SELECT room_id, user_id, expires_at, by_id, reason, created_at FROM room_mutes ORDER BY room_id, user_id",
  "SELECT id, room_id, actor_id, action, target, reason, expires_at, timestamp FROM room_audit ORDER BY id",
  "SELECT id, room_id, edited_at, deleted_at, deleted_by, delete_reason FROM messages ORDER BY id",
  "SELECT id, is_admin, locked_at FROM users ORDER BY id"
]

/** Every copied column of every table, as plain rows (same shape from SQLite and PostgreSQL). */
const rowsOf = (db: string) =>
  withDatabase(
    db,
    (sql: SqlClient.SqlClient) =>
      Effect.forEach(TABLES, (t) =>
        Effect.map(sql.unsafe<Record<string, unknown>>(t.query), (rows) =>
          [t.name, rows.map((r) => ({ ...r }))] as const))
  ).pipe(Effect.map((entries) =>
    Object.fromEntries(entries) as Record<string, Array<Record<string, unknown>>>
  ))

/** The tables the target's public schema holds: none until copy-db has migrated it. */
const pgTables = (url: string) =>
  withDatabase(
    url,
    (sql) =>
      sql<
        { name: string }
      >`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`
  )
    .pipe(Effect.map((rows) => rows.map((r) => r.name)))

const pgCounts = (url: string) =>
  withDatabase(url, (sql) =>
    sql<{ users: number; tokens: number; sessions: number; messages: number }>`
      SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM tokens) AS tokens,
             (SELECT count(*) FROM sessions) AS sessions, (SELECT count(*) FROM messages) AS messages`)
    .pipe(Effect.map((rows) => ({ ...rows[0]! })))

/** Public timeline and every conversation, as seen by `wire`'s user. */
const histories = (wire: Wire, others: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const pages: Record<string, unknown> = {}
    pages.public = yield* wire.ask({ command: "HISTORY", limit: 100 }, "HISTORY")
    for (const other of others) {
      pages[other] = yield* wire.ask({ command: "HISTORY", with: other, limit: 100 }, "HISTORY")
    }
    return pages
  })

/** A SQLite database written by the real server: alice, Bob and carol, two public messages and three DMs. */
const writeSqlite = Effect.gen(function*() {
  const file = yield* tempDb
  const server = yield* spawnServer({ db: file })
  const alice = yield* signUp(server.port, "alice")
  const bob = yield* signUp(server.port, "Bob")
  const carol = yield* signUp(server.port, "carol", CAROL_PASSWORD)
  const hello = yield* say(alice.wire, "hello everyone")
  const lunch = yield* say(alice.wire, "bob, lunch?", { to: "bob", client_msg_id: "alice-1" })
  // what a PostgreSQL array literal must escape, and more than ASCII
  const tricky = yield* say(
    bob.wire,
    "quotes \" and \\ backslash, {braces}, commas, NULL, 'single', héllo ✓ 🎉\nsecond line",
    {
      client_msg_id: "bob-1"
    }
  )
  const unread = yield* say(carol.wire, "alice, are you there?", { to: "alice", client_msg_id: "carol-1" })
  const toCarol = yield* say(bob.wire, "carol: not read yet", { to: "carol" })
  yield* bob.wire.pick((f) => f.type === "MESSAGE" && f.message_id === lunch.message_id)
  yield* bob.wire.ask({ command: "READ", message_id: lunch.message_id }, "OK")
  const before = {
    alice: yield* histories(alice.wire, ["bob", "carol"]),
    carol: yield* histories(carol.wire, ["bob"])
  }
  for (const who of [alice, bob, carol]) yield* who.wire.ask({ command: "DISCONNECT" }, "BYE")
  yield* stop(server)
  return {
    file,
    acks: { hello, lunch, tricky, unread, toCarol },
    aliceToken: alice.connected.token as string,
    before
  }
})

describe.skipIf(!postgresAvailable).concurrent("copy-db", () => {
  it.scopedLive(
    "copies a SQLite database written by the server; the server on PostgreSQL then serves the same accounts, messages and ids",
    () =>
      Effect.gen(function*() {
        const { acks, aliceToken, before, file } = yield* writeSqlite
        const source = yield* rowsOf(file)
        assert.deepStrictEqual(
          (source.users ?? []).map((u) => u.username),
          ["alice", "Bob", "carol"]
        )
        assert.strictEqual(source.messages?.length, 5)
        assert.strictEqual(source.sessions?.length, 3)
        assert.strictEqual(source.tokens?.length, 3)
        assert.deepStrictEqual(
          (source.messages ?? []).map((m) => [m.id, m.is_read, m.client_msg_id]),
          [
            [idOf(acks.hello), 0, null],
            [idOf(acks.lunch), 1, "alice-1"],
            [idOf(acks.tricky), 0, "bob-1"],
            [idOf(acks.unread), 0, "carol-1"],
            [idOf(acks.toCarol), 0, null]
          ]
        )

        const url = withPassword(yield* freshPgDatabase)
        const copied = yield* copyDb(file, url)
        assert.strictEqual(copied.code, 0, copied.output)
        assert.deepStrictEqual(
          saidLines(copied.output),
          [`copied 3 users, 5 messages, 3 sessions, 3 tokens from ${file} to ${redactUrl(url)}`]
        )
        assert.notInclude(copied.output, new URL(url).password)
        // every column of every row, as SQLite held it
        assert.deepStrictEqual(yield* rowsOf(url), source)

        // a second copy into the now non-empty database: refused in one line, nothing changed
        const stored = yield* everythingStored(url)
        const again = yield* copyDb(file, url)
        assert.strictEqual(again.code, 1, again.output)
        assert.deepStrictEqual(saidLines(again.output), [
          `parley-server copy-db: ${
            redactUrl(url)
          } is not empty (it holds 3 users, 5 messages, 3 sessions, 3 tokens): ` +
          "copy-db copies only into an empty database; nothing was changed"
        ])
        assert.notInclude(again.output, new URL(url).password)
        assert.strictEqual(yield* everythingStored(url), stored)

        // the server on PostgreSQL
        const server = yield* spawnServer({ db: url })
        const bob = yield* logIn(server.port, "bob")
        assert.strictEqual(bob.connected.user, "Bob")
        assert.strictEqual(bob.connected.unread, 0) // lunch was READ before the move
        assert.deepStrictEqual(yield* bob.wire.sync(), [])
        // alice's unread DM from carol is replayed on CONNECT, as on SQLite
        const alice = yield* logIn(server.port, "alice")
        assert.strictEqual(alice.connected.unread, 1)
        assert.deepStrictEqual((yield* alice.wire.sync()).filter((f) => f.type === "MESSAGE"), [
          {
            type: "MESSAGE",
            message_id: idOf(acks.unread),
            from: "carol",
            to: "alice",
            room: null,
            text: "alice, are you there?",
            timestamp: acks.unread.timestamp
          }
        ])
        // carol's own password (not everyone's), and the token alice got from the SQLite server
        const wrong = yield* Wire.connect(server.port, "carol, wrong password")
        assert.strictEqual(
          (yield* wrong.ask({ command: "CONNECT", username: "carol", password: PASSWORD }, "ERROR")).code,
          "AUTH_FAILED"
        )
        const carol = yield* logIn(server.port, "carol", { password: CAROL_PASSWORD })
        assert.strictEqual(carol.connected.unread, 1)
        const byToken = yield* logIn(server.port, "alice", { token: aliceToken })
        assert.strictEqual(byToken.connected.user, "alice")

        // HISTORY: the same messages, ids, senders, timestamps and texts
        assert.deepStrictEqual(
          {
            alice: yield* histories(alice.wire, ["bob", "carol"]),
            carol: yield* histories(carol.wire, ["bob"])
          },
          before
        )
        const timeline = (before.alice.public as Frame).messages as Array<Frame>
        assert.deepStrictEqual(timeline.map((m) => [m.message_id, m.from, m.text, m.timestamp]), [
          [idOf(acks.hello), "alice", "hello everyone", acks.hello.timestamp],
          [
            idOf(acks.tricky),
            "Bob",
            "quotes \" and \\ backslash, {braces}, commas, NULL, 'single', héllo ✓ 🎉\nsecond line",
            acks.tricky.timestamp
          ]
        ])

        // a resent client_msg_id is answered by its original ACK
        const resent = yield* say(alice.wire, "bob, lunch? (sent again)", { to: "bob", client_msg_id: "alice-1" })
        assert.deepStrictEqual(resent, acks.lunch)
        // a new message, a new account and a new session get ids above every copied one
        const maxMessage = Math.max(...(source.messages ?? []).map((m) => m.id as number))
        const fresh = yield* say(bob.wire, "first message on PostgreSQL")
        assert.strictEqual(idOf(fresh), maxMessage + 1)
        const dave = yield* signUp(server.port, "dave")
        yield* dave.wire.sync()
        const daveRow = (yield* users(url)).find((u) => u.username === "dave")
        assert.strictEqual(daveRow?.id, 4)
        // sessions 1-3 copied; then bob, alice, carol, alice by token, dave
        assert.strictEqual(dave.connected.session_id, 8)
        assert.deepStrictEqual((yield* sessions(url)).map((s) => [s.id, s.user_id]), [
          [1, 1],
          [2, 2],
          [3, 3],
          [4, 2],
          [5, 1],
          [6, 3],
          [7, 1],
          [8, 4]
        ])
      }),
    120_000
  )

  it.scopedLive(
    "refuses in one line, exit 1, writing nothing: a URL that is not PostgreSQL, a missing file, an old schema, U+0000, a row PostgreSQL rejects",
    () =>
      Effect.gen(function*() {
        const { acks, file } = yield* writeSqlite
        const url = withPassword(yield* freshPgDatabase)
        const refused = (from: string, to: string) =>
          Effect.gen(function*() {
            const run = yield* copyDb(from, to)
            assert.strictEqual(run.code, 1, run.output)
            const lines = saidLines(run.output)
            assert.strictEqual(lines.length, 1, run.output)
            assert.notInclude(run.output, "never-printed")
            return lines[0]!
          })

        assert.strictEqual(
          yield* refused(file, "mysql://root:never-printed@127.0.0.1/chat"),
          "parley-server: --to must be a postgres:// or postgresql:// URL (see --help)"
        )
        assert.strictEqual(
          yield* refused(file, file),
          "parley-server: --to must be a postgres:// or postgresql:// URL (see --help)"
        )
        const missing = Path.join(Path.dirname(file), "nothing-here.db")
        assert.strictEqual(
          yield* refused(missing, url),
          `parley-server copy-db: ${missing}: no such file (--from names the SQLite database to copy)`
        )
        assert.deepStrictEqual(yield* pgTables(url), [])

        // written by an older server (the last migration not applied), or by a newer one
        const last = Object.keys(migrations).length
        const lastName = Object.keys(migrations)[last - 1]!.replace(/^\d+_/, "")
        yield* withDatabase(
          file,
          (sql) => sql`UPDATE effect_sql_migrations SET migration_id = ${last + 1} WHERE migration_id = ${last}`
        )
        assert.strictEqual(
          yield* refused(file, url),
          `parley-server copy-db: ${file} was migrated by a newer parley-server (migration ${
            last + 1
          } is unknown to this one): copy it with that version`
        )
        yield* withDatabase(file, (sql) => sql`DELETE FROM effect_sql_migrations WHERE migration_id = ${last + 1}`)
        assert.strictEqual(
          yield* refused(file, url),
          `parley-server copy-db: ${file} is at schema version ${
            last - 1
          } of ${last}: start the server once on it (parley-server --db ${file}) to migrate it, then copy`
        )
        assert.deepStrictEqual(yield* pgTables(url), [])
        yield* withDatabase(
          file,
          (sql) => sql`INSERT INTO effect_sql_migrations (migration_id, name) VALUES (${last}, ${lastName})`
        )

        // U+0000, which the protocol no longer accepts but older servers stored
        yield* withDatabase(file, (sql) =>
          sql`UPDATE messages SET message = 'nul' || char(0) || 'inside' WHERE id IN (${idOf(acks.hello)}, ${
            idOf(acks.toCarol)
          })`)
        assert.strictEqual(
          yield* refused(file, url),
          `parley-server copy-db: ${file} holds 2 messages with U+0000 (NUL) in the text or client_msg_id (id ${
            idOf(acks.hello)
          }, ${
            idOf(acks.toCarol)
          }), which PostgreSQL text cannot store: nothing copied (edit or delete them in the SQLite file first)`
        )
        assert.deepStrictEqual(yield* pgTables(url), [])
        yield* withDatabase(file, (sql) =>
          sql`UPDATE messages SET message = 'fixed' WHERE id IN (${idOf(acks.hello)}, ${idOf(acks.toCarol)})`)

        // a row PostgreSQL rejects after users, tokens and sessions went in: all of it rolled back
        const [sender] = yield* withDatabase(file, (sql) =>
          sql<{ sender_id: number }>`SELECT sender_id FROM messages WHERE id = ${idOf(acks.toCarol)}`)
        assert.strictEqual(sender?.sender_id, 2) // Bob
        // as a file written with foreign keys off could hold (better-sqlite3 turns them on by default)
        yield* withDatabase(file, (sql) =>
          Effect.zipRight(
            sql`PRAGMA foreign_keys = OFF`,
            sql`UPDATE messages SET sender_id = 999 WHERE id = ${idOf(acks.toCarol)}`
          ))
        const rejected = yield* refused(file, url)
        assert.match(
          rejected,
          new RegExp(
            `^parley-server copy-db: writing to ${
              redactUrl(url).replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
            } failed, nothing copied \\(rolled back\\): ` +
              `insert or update on table "messages" violates foreign key constraint`
          )
        )
        assert.deepStrictEqual(yield* pgCounts(url), { users: 0, tokens: 0, sessions: 0, messages: 0 })
        // and once the row is mended, the same target takes the copy
        yield* withDatabase(file, (sql) =>
          sql`UPDATE messages SET sender_id = 2 WHERE id = ${idOf(acks.toCarol)}`)
        const ok = yield* copyDb(file, url)
        assert.strictEqual(ok.code, 0, ok.output)
        assert.deepStrictEqual(yield* pgCounts(url), { users: 3, tokens: 3, sessions: 3, messages: 5 })
      }),
    120_000
  )

  it.scopedLive(
    "a long copy goes in chunks, says how far it got on stderr every 50,000 messages, and keeps every row",
    () =>
      Effect.gen(function*() {
        const file = yield* tempDb
        const server = yield* spawnServer({ db: file })
        const alice = yield* signUp(server.port, "alice")
        yield* signUp(server.port, "bob")
        const first = yield* say(alice.wire, "the first")
        yield* stop(server)
        // 120,000 more, public and DMs, some 4096 characters long
        yield* withDatabase(file, (sql) =>
          sql.unsafe(`
          WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 120000)
          INSERT INTO messages (sender_id, receiver_id, message, timestamp, is_read, client_msg_id)
          SELECT 1 + i % 2, CASE WHEN i % 3 = 0 THEN 2 - i % 2 END,
                 CASE WHEN i % 1000 = 0 THEN printf('%.4096c', 'x') ELSE 'message ' || i END,
                 '2026-01-01T00:00:00.000Z', i % 2, CASE WHEN i % 5 = 0 THEN 'k' || i END
          FROM n`))
        const url = yield* freshPgDatabase
        const run = yield* copyDb(file, url)
        assert.strictEqual(run.code, 0, run.output)
        assert.deepStrictEqual(saidLines(run.output), [
          "copy-db: 50,000 of 120,001 messages copied",
          "copy-db: 100,000 of 120,001 messages copied",
          `copied 2 users, 120,001 messages, 2 sessions, 2 tokens from ${file} to ${redactUrl(url)}`
        ])
        const [source, target] = [yield* rowsOf(file), yield* rowsOf(url)]
        assert.strictEqual(target.messages?.length, 120_001)
        assert.deepStrictEqual(target, source)
        assert.strictEqual(target.messages?.[0]?.id, idOf(first))
        assert.strictEqual((target.messages?.[1000]?.message as string).length, 4096)
        const [next] = yield* withDatabase(
          url,
          (sql) => sql<{ id: number }>`SELECT nextval(pg_get_serial_sequence('messages', 'id')) AS id`
        )
        assert.strictEqual(next?.id, 120_002)
      }),
    180_000
  )

  it.scopedLive(
    "copies rooms, memberships, invitations, sanctions, the audit log, room messages with their edits and deletions, and admins",
    () =>
      Effect.gen(function*() {
        const file = yield* tempDb
        const sqlite = yield* spawnServer({ db: file })
        const alice = yield* signUp(sqlite.port, "alice")
        const bob = yield* signUp(sqlite.port, "bob")
        yield* signUp(sqlite.port, "carol")
        yield* signUp(sqlite.port, "dave")
        yield* alice.wire.ask({ command: "ROOM_CREATE", room: "ops", visibility: "private", topic: "on call" }, "ROOM")
        yield* alice.wire.ask({ command: "INVITE", room: "ops", user: "bob" }, "OK")
        yield* alice.wire.ask({ command: "INVITE", room: "ops", user: "carol" }, "OK")
        // dave's invitation stays pending
        yield* alice.wire.ask({ command: "INVITE", room: "ops", user: "dave" }, "OK")
        yield* bob.wire.ask({ command: "JOIN", room: "ops" }, "ROOM")
        const bobs = yield* say(bob.wire, "deploying now", { room: "ops" })
        const alices = yield* say(alice.wire, "deploy later", { room: "ops" })
        yield* alice.wire.ask({ command: "EDIT", message_id: idOf(alices), text: "deploy tomorrow" }, "OK")
        yield* alice.wire.ask({ command: "DELETE", message_id: idOf(bobs), reason: "too early" }, "OK")
        yield* alice.wire.ask({ command: "MUTE", room: "ops", user: "bob", duration_s: 600, reason: "not now" }, "OK")
        yield* alice.wire.ask({ command: "BAN", room: "ops", user: "carol", reason: "spam" }, "OK")
        yield* stop(sqlite)
        yield* withDatabase(file, (sql) => sql`UPDATE users SET is_admin = 1 WHERE username = 'alice'`)
        yield* withDatabase(file, (sql) => sql`UPDATE rooms SET topic = 'welcome' WHERE id = 0`)

        const url = yield* freshPgDatabase
        const copied = yield* copyDb(file, url)
        assert.strictEqual(copied.code, 0, copied.output)
        const said = saidLines(copied.output).join("\n")
        assert.include(
          said,
          "copied 4 users, 2 messages, 4 sessions, 4 tokens, 1 room, 2 room memberships, 1 invitation, 1 ban, 1 mute"
        )
        assert.match(said, /\d+ audit entries from /)
        for (const query of ROOM_QUERIES) {
          const from = yield* withDatabase(file, (sql) => sql.unsafe<Record<string, unknown>>(query))
          const to = yield* withDatabase(url, (sql) => sql.unsafe<Record<string, unknown>>(query))
          assert.deepStrictEqual(to.map((r) => ({ ...r })), from.map((r) => ({ ...r })), query)
        }

        // served on PostgreSQL as on SQLite: the edit shown, the deletion kept, the mute in force
        const pg = yield* spawnServer({ db: url })
        const bobAgain = yield* logIn(pg.port, "bob")
        const page = yield* bobAgain.wire.ask({ command: "HISTORY", room: "ops" }, "HISTORY")
        assert.deepStrictEqual(
          (page.messages as Array<Frame>).map((m) => [m.message_id, m.text, m.edited_at !== undefined]),
          [[idOf(alices), "deploy tomorrow", true]]
        )
        const muted = yield* bobAgain.wire.ask({ command: "MSG", room: "ops", text: "still?" }, "ERROR")
        assert.strictEqual(muted.code, "MUTED")
        // the ban took carol's invitation away: the private room is not there for her at all
        const carolAgain = yield* logIn(pg.port, "carol")
        assert.strictEqual((yield* carolAgain.wire.ask({ command: "JOIN", room: "ops" }, "ERROR")).code, "NO_SUCH_ROOM")
        const invites = yield* withDatabase(url, (sql) => sql<{ n: number }>`SELECT count(*) AS n FROM room_invites`)
        assert.strictEqual(Number(invites[0]?.n), 1, "dave's invitation, and only his")
        // a new room gets an id above the copied one
        const aliceAgain = yield* logIn(pg.port, "alice")
        yield* aliceAgain.wire.ask({ command: "ROOM_CREATE", room: "dev", visibility: "public" }, "ROOM")
        const ids = yield* withDatabase(url, (sql) => sql<{ id: number }>`SELECT id FROM rooms ORDER BY id`)
        assert.deepStrictEqual(ids.map((r) => Number(r.id)), [0, 1, 2])
        const dave = yield* logIn(pg.port, "dave")
        yield* dave.wire.ask({ command: "JOIN", room: "ops" }, "ROOM")
        const topic = yield* withDatabase(url, (sql) => sql<{ topic: string }>`SELECT topic FROM rooms WHERE id = 0`)
        assert.strictEqual(topic[0]?.topic, "welcome")
      }),
    { timeout: 120_000 }
  )
})
