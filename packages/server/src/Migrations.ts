/**
 * Schema migrations. The seed's tables and columns are kept as they are;
 * Parley adds columns and indexes, and a table of login token hashes.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"

const initial = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE users (
      id INTEGER PRIMARY KEY,
      username TEXT NOT NULL UNIQUE COLLATE NOCASE,
      password_hash TEXT NOT NULL,
      created_at TEXT NOT NULL,
      last_login TEXT
    )`
  yield* sql`
    CREATE TABLE messages (
      id INTEGER PRIMARY KEY,
      sender_id INTEGER NOT NULL REFERENCES users(id),
      receiver_id INTEGER REFERENCES users(id),
      message TEXT NOT NULL,
      timestamp TEXT NOT NULL,
      is_read INTEGER NOT NULL DEFAULT 0,
      client_msg_id TEXT
    )`
  // NULL client_msg_ids never collide in a UNIQUE index
  yield* sql`CREATE UNIQUE INDEX messages_client_msg_id ON messages (sender_id, client_msg_id)`
  yield* sql`CREATE INDEX messages_public ON messages (id) WHERE receiver_id IS NULL`
  yield* sql`CREATE INDEX messages_direct ON messages (receiver_id, sender_id, id) WHERE receiver_id IS NOT NULL`
  yield* sql`CREATE INDEX messages_sent ON messages (sender_id, id)`
  yield* sql`CREATE INDEX messages_unread ON messages (receiver_id, id) WHERE is_read = 0 AND receiver_id IS NOT NULL`
  yield* sql`
    CREATE TABLE sessions (
      id INTEGER PRIMARY KEY,
      user_id INTEGER NOT NULL REFERENCES users(id),
      ip_address TEXT,
      connect_time TEXT NOT NULL,
      disconnect_time TEXT
    )`
  yield* sql`CREATE INDEX sessions_open ON sessions (id) WHERE disconnect_time IS NULL`
  yield* sql`
    CREATE TABLE tokens (
      token_hash TEXT PRIMARY KEY,
      user_id INTEGER NOT NULL REFERENCES users(id),
      created_at TEXT NOT NULL,
      expires_at TEXT NOT NULL
    ) WITHOUT ROWID`
})

/**
 * Every index on `messages` costs a page write per commit per sender it is
 * keyed by. `messages_sent` served nothing a query needs (the replay scans
 * by id), and NULL client_msg_ids never collide, so that index need only
 * hold the rows that have one.
 */
const leanIndexes = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`DROP INDEX IF EXISTS messages_sent`
  yield* sql`DROP INDEX IF EXISTS messages_client_msg_id`
  yield* sql`CREATE UNIQUE INDEX messages_client_msg_id ON messages (sender_id, client_msg_id) WHERE client_msg_id IS NOT NULL`
})

/**
 * DM conversations get an index of their own that is brought up to date a
 * little after the messages are committed (see DirectIndex.ts) instead of in
 * the same transaction: an index keyed by conversation puts every active
 * conversation's leaf page in every group commit (measured: 19 us of SQLite
 * per DM with `messages_direct`, 3.6 without, 50 conversations per commit).
 * `upto` is the highest message id whose DM (if any) is indexed; history reads
 * the index up to it and the messages table above it.
 */
const directIndex = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE direct_index (
      lo INTEGER NOT NULL,
      hi INTEGER NOT NULL,
      id INTEGER NOT NULL,
      PRIMARY KEY (lo, hi, id)
    ) WITHOUT ROWID`
  yield* sql`CREATE TABLE direct_index_state (upto INTEGER NOT NULL)`
  yield* sql`
    INSERT INTO direct_index (lo, hi, id)
    SELECT min(sender_id, receiver_id), max(sender_id, receiver_id), id FROM messages WHERE receiver_id IS NOT NULL`
  yield* sql`INSERT INTO direct_index_state (upto) SELECT coalesce(max(id), 0) FROM messages`
  yield* sql`DROP INDEX IF EXISTS messages_direct`
})

/**
 * A session remembers which token it logged in with or was given (its
 * hash), so REVOKE can revoke that token; rows from before have none.
 */
const sessionToken = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE sessions ADD COLUMN token_hash TEXT`
})

/**
 * Rooms, roles and moderation (protocol v1.2). `general` is the row with id
 * 0, so roles, bans, mutes and the audit log name it like any room, while its
 * messages keep `room_id` NULL: the public timeline needs no backfill, and
 * every public query reads `receiver_id IS NULL AND room_id IS NULL`. A room
 * is deleted softly (its messages and audit entries keep pointing at it), so
 * its name is unique among the rooms not deleted only.
 */
const rooms = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`
    CREATE TABLE rooms (
      id INTEGER PRIMARY KEY,
      name TEXT NOT NULL COLLATE NOCASE,
      visibility TEXT NOT NULL,
      topic TEXT NOT NULL DEFAULT '',
      created_by INTEGER REFERENCES users(id),
      created_at TEXT NOT NULL,
      deleted_at TEXT
    )`
  yield* sql`CREATE UNIQUE INDEX rooms_name ON rooms (name) WHERE deleted_at IS NULL`
  yield* sql`INSERT INTO rooms (id, name, visibility, topic, created_at) VALUES (0, 'general', 'public', '', '')`
  yield* sql`
    CREATE TABLE room_members (
      room_id INTEGER NOT NULL REFERENCES rooms(id),
      user_id INTEGER NOT NULL REFERENCES users(id),
      role TEXT NOT NULL,
      read_mark INTEGER NOT NULL DEFAULT 0,
      joined_at TEXT NOT NULL,
      PRIMARY KEY (room_id, user_id)
    ) WITHOUT ROWID`
  yield* sql`CREATE INDEX room_members_user ON room_members (user_id, room_id)`
  yield* sql`
    CREATE TABLE room_invites (
      room_id INTEGER NOT NULL REFERENCES rooms(id),
      user_id INTEGER NOT NULL REFERENCES users(id),
      invited_by INTEGER NOT NULL REFERENCES users(id),
      expires_at TEXT NOT NULL,
      PRIMARY KEY (room_id, user_id)
    ) WITHOUT ROWID`
  for (const table of ["room_bans", "room_mutes"]) {
    yield* sql`
      CREATE TABLE ${sql(table)} (
        room_id INTEGER NOT NULL REFERENCES rooms(id),
        user_id INTEGER NOT NULL REFERENCES users(id),
        expires_at TEXT,
        by_id INTEGER NOT NULL REFERENCES users(id),
        reason TEXT,
        created_at TEXT NOT NULL,
        PRIMARY KEY (room_id, user_id)
      ) WITHOUT ROWID`
  }
  yield* sql`
    CREATE TABLE room_audit (
      id INTEGER PRIMARY KEY,
      room_id INTEGER NOT NULL REFERENCES rooms(id),
      actor_id INTEGER NOT NULL REFERENCES users(id),
      action TEXT NOT NULL,
      target TEXT NOT NULL,
      reason TEXT,
      expires_at TEXT,
      timestamp TEXT NOT NULL
    )`
  yield* sql`CREATE INDEX room_audit_room ON room_audit (room_id, id)`
  yield* sql`ALTER TABLE messages ADD COLUMN room_id INTEGER REFERENCES rooms(id)`
  yield* sql`ALTER TABLE messages ADD COLUMN edited_at TEXT`
  yield* sql`ALTER TABLE messages ADD COLUMN deleted_at TEXT`
  yield* sql`ALTER TABLE messages ADD COLUMN deleted_by INTEGER REFERENCES users(id)`
  yield* sql`ALTER TABLE messages ADD COLUMN delete_reason TEXT`
  yield* sql`DROP INDEX IF EXISTS messages_public`
  yield* sql`CREATE INDEX messages_public ON messages (id) WHERE receiver_id IS NULL AND room_id IS NULL`
  yield* sql`CREATE INDEX messages_room ON messages (room_id, id) WHERE room_id IS NOT NULL`
  yield* sql`ALTER TABLE users ADD COLUMN is_admin INTEGER NOT NULL DEFAULT 0`
  yield* sql`ALTER TABLE users ADD COLUMN locked_at TEXT`
})

/** The node that holds each session (a cluster's nodes close only their own at start; see Cluster.ts). */
const sessionNode = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`ALTER TABLE sessions ADD COLUMN node_id TEXT`
})

export const migrations = {
  "1_initial": initial,
  "2_lean_indexes": leanIndexes,
  "3_direct_index": directIndex,
  "4_session_token": sessionToken,
  "5_rooms": rooms,
  "6_session_node": sessionNode
}
