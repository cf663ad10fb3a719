/**
 * Reads of `messages` (writes go through GroupCommit): history pages, the
 * replay after CONNECT, unread counts, and marking DMs read.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type * as Statement from "@effect/sql/Statement"
import type { Message, Visibility } from "@parley/protocol"
import { Effect, Option } from "effect"

interface MessageRow {
  readonly message_id: number
  readonly from: string
  readonly to: string | null
  readonly room: string | null
  readonly text: string
  readonly timestamp: string
  readonly edited_at: string | null
  readonly deleted_at: string | null
}

const toMessage = (row: MessageRow): Message =>
  row.edited_at === null
    ? {
      type: "MESSAGE",
      message_id: row.message_id,
      from: row.from,
      to: row.to,
      room: row.room,
      text: row.text,
      timestamp: row.timestamp
    }
    : {
      type: "MESSAGE",
      message_id: row.message_id,
      from: row.from,
      to: row.to,
      room: row.room,
      text: row.text,
      timestamp: row.timestamp,
      edited_at: row.edited_at
    }

interface CommittedRow extends MessageRow {
  readonly senderId: number
  readonly receiverId: number | null
  readonly roomId: number | null
}

/** A stored message as EDIT and DELETE see it (see `MessagesRepo.stored`). */
export interface StoredMessage {
  readonly senderId: number
  readonly receiverId: number | null
  readonly timestamp: string
  readonly deleted: boolean | number
  readonly roomId: number | null
  readonly roomName: string | null
  readonly visibility: Visibility | null
  readonly topic: string | null
  readonly roomDeleted: boolean | number | null
}

export interface HistoryQuery {
  readonly userId: number
  /** The other party of a DM conversation; undefined for a room's. */
  readonly withUserId: number | undefined
  /** The room (not `general`); undefined for `general` or a DM conversation. */
  readonly roomId: number | undefined
  readonly before: number | undefined
  readonly after: number | undefined
  readonly limit: number
}

/** The page's bounds, order and size, as SQL fragments. */
interface PageBounds {
  readonly lower: Statement.Fragment
  readonly upper: Statement.Fragment
  readonly order: Statement.Fragment
  readonly take: number
}

/** The ids of a page of the DM conversation between two users (each dialect reads its own index). */
const conversationIds = (sql: SqlClient.SqlClient, userId: number, withUserId: number, page: PageBounds) => {
  const { lower, order, take, upper } = page
  const lo = Math.min(userId, withUserId)
  const hi = Math.max(userId, withUserId)
  return sql.onDialectOrElse({
    // the conversation's expression index (PgMigrations)
    pg: () =>
      sql`SELECT id FROM messages
          WHERE receiver_id IS NOT NULL AND least(sender_id, receiver_id) = ${lo}
            AND greatest(sender_id, receiver_id) = ${hi} ${lower} ${upper}
          ORDER BY id ${order} LIMIT ${take}`,
    // SQLite: the index table up to its mark, the messages table above it (see DirectIndex)
    orElse: () =>
      sql`
        SELECT id FROM (SELECT id FROM direct_index WHERE lo = ${lo} AND hi = ${hi} ${lower} ${upper}
                        ORDER BY id ${order} LIMIT ${take})
        UNION ALL
        SELECT id FROM (SELECT id FROM messages
                        WHERE id > (SELECT upto FROM direct_index_state) AND receiver_id IS NOT NULL
                          AND ((sender_id = ${userId} AND receiver_id = ${withUserId})
                            OR (sender_id = ${withUserId} AND receiver_id = ${userId}))
                          ${lower} ${upper}
                        ORDER BY id ${order} LIMIT ${take})`
  })
}

export class MessagesRepo extends Effect.Service<MessagesRepo>()("@parley/server/MessagesRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    // a DM has no room; a public message without one is in general
    const select = sql`
      SELECT m.id AS message_id, su.username AS "from", ru.username AS "to",
        CASE WHEN m.receiver_id IS NOT NULL THEN NULL WHEN m.room_id IS NULL THEN 'general' ELSE rm.name END AS room,
        m.message AS text, m.timestamp, m.edited_at, m.deleted_at
      FROM messages m JOIN users su ON su.id = m.sender_id LEFT JOIN users ru ON ru.id = m.receiver_id
        LEFT JOIN rooms rm ON rm.id = m.room_id`

    /** A page of history, oldest first, and whether more exist in the paging direction. */
    const history = (q: HistoryQuery) =>
      Effect.gen(function*() {
        const forward = q.after !== undefined
        const order = forward ? sql`ASC` : sql`DESC`
        const lower = q.after === undefined ? sql`` : sql`AND id > ${q.after}`
        const upper = q.before === undefined ? sql`` : sql`AND id < ${q.before}`
        const take = q.limit + 1
        // deleted messages are left out, so a page may be short while has_more is true
        const ids = q.withUserId !== undefined
          ? conversationIds(sql, q.userId, q.withUserId, { lower, upper, order, take })
          : q.roomId !== undefined
          ? sql`SELECT id FROM messages WHERE room_id = ${q.roomId} ${lower} ${upper}
                ORDER BY id ${order} LIMIT ${take}`
          : sql`SELECT id FROM messages WHERE receiver_id IS NULL AND room_id IS NULL ${lower} ${upper}
                ORDER BY id ${order} LIMIT ${take}`
        const rows = yield* sql<MessageRow>`${select} WHERE m.id IN (${ids}) ORDER BY m.id ${order} LIMIT ${take}`
        const hasMore = rows.length > q.limit
        const page = rows.slice(0, q.limit).filter((row) => row.deleted_at === null).map(toMessage)
        if (!forward) page.reverse()
        return { messages: page, hasMore }
      }).pipe(Effect.orDie)

    /**
     * What CONNECT replays: every unread DM to the user and, with
     * `resumeAfter`, every public message and DM to or from them after it,
     * and with `rooms` every message of the rooms they are a member of now;
     * never a deleted one. Newest `cap` only, oldest first; `truncated` when
     * more were due.
     */
    const replay = (userId: number, resumeAfter: number | undefined, cap: number, rooms: boolean) =>
      Effect.gen(function*() {
        // each part reads its own index (unread DMs; the id range after the cursor) and at most
        // cap + 1 rows, so a reconnect never scans the table
        const unread = sql`SELECT id FROM (SELECT id FROM messages WHERE receiver_id = ${userId} AND is_read = 0
                           ORDER BY id DESC LIMIT ${cap + 1}) AS unread`
        const due = resumeAfter === undefined ? unread : sql`${unread} UNION ALL
          SELECT id FROM (SELECT id FROM messages WHERE id > ${resumeAfter} AND deleted_at IS NULL
            AND ((room_id IS NULL AND (receiver_id IS NULL OR receiver_id = ${userId} OR sender_id = ${userId}))
              ${
          rooms
            ? sql`OR room_id IN (SELECT room_id FROM room_members WHERE user_id = ${userId} AND room_id <> 0)`
            : sql``
        })
            ORDER BY id DESC LIMIT ${cap + 1}) AS after_cursor`
        const rows = yield* sql<MessageRow>`${select} WHERE m.id IN (${due}) ORDER BY m.id DESC LIMIT ${cap + 1}`
        const truncated = rows.length > cap
        const messages = rows.slice(0, cap).map(toMessage).reverse()
        return { messages, truncated }
      }).pipe(Effect.orDie)

    const unreadCount = (userId: number) =>
      sql<{ n: number }>`SELECT count(*) AS n FROM messages WHERE receiver_id = ${userId} AND is_read = 0`.pipe(
        Effect.map((rows) => rows[0]?.n ?? 0),
        Effect.orDie
      )

    /** The sender of a DM addressed to `userId`, if there is one with that id. */
    const dmSender = (userId: number, messageId: number) =>
      sql<{ sender_id: number }>`
        SELECT sender_id FROM messages WHERE id = ${messageId} AND receiver_id = ${userId}`.pipe(
        Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), (r) => r.sender_id)),
        Effect.orDie
      )

    /** Marks a DM and every earlier DM from the same sender to the user as read. */
    const markRead = (userId: number, senderId: number, messageId: number) =>
      // by messages_unread: the receiver's unread DMs up to the id
      sql`UPDATE messages SET is_read = 1
          WHERE receiver_id = ${userId} AND receiver_id IS NOT NULL AND is_read = 0
            AND id <= ${messageId} AND sender_id = ${senderId}`.pipe(
        Effect.asVoid,
        Effect.orDie
      )

    /**
     * A message as EDIT and DELETE need it: who sent it, to whom or in which
     * room (that room's row: general's for a public message), when, and
     * whether it or its room is deleted. None for an id nobody stored.
     */
    const stored = (messageId: number) =>
      sql<StoredMessage>`
        SELECT m.sender_id AS "senderId", m.receiver_id AS "receiverId", m.timestamp,
          m.deleted_at IS NOT NULL AS deleted, r.id AS "roomId", r.name AS "roomName", r.visibility,
          r.topic, r.deleted_at IS NOT NULL AS "roomDeleted"
        FROM messages m LEFT JOIN rooms r ON r.id = coalesce(m.room_id, 0) AND m.receiver_id IS NULL
        WHERE m.id = ${messageId}`.pipe(Effect.map((rows) => Option.fromNullable(rows[0])), Effect.orDie)

    /** Replaces a message's text (for the group commit). */
    const edit = (messageId: number, text: string, at: string) =>
      sql`UPDATE messages SET message = ${text}, edited_at = ${at} WHERE id = ${messageId}`.pipe(
        Effect.asVoid,
        Effect.orDie
      )

    /** Deletes a message softly: the row stays, with who deleted it, when and why (for the group commit). */
    const softDelete = (messageId: number, by: number, reason: string | null, at: string) =>
      sql`UPDATE messages SET deleted_at = ${at}, deleted_by = ${by}, delete_reason = ${reason}
          WHERE id = ${messageId}`.pipe(Effect.asVoid, Effect.orDie)

    /**
     * Every message committed with an id in (after, upTo], oldest first, at
     * most `limit`, with who it goes to: what a cluster node's feed repairs a
     * gap with (Feed.ts). A deleted one is left out (nobody gets it live).
     */
    const committed = (after: number, upTo: number, limit: number) =>
      sql<CommittedRow>`
        SELECT m.id AS message_id, su.username AS "from", ru.username AS "to",
          CASE WHEN m.receiver_id IS NOT NULL THEN NULL WHEN m.room_id IS NULL THEN 'general' ELSE rm.name END AS room,
          m.message AS text, m.timestamp, m.edited_at, m.deleted_at,
          m.sender_id AS "senderId", m.receiver_id AS "receiverId", m.room_id AS "roomId"
        FROM messages m JOIN users su ON su.id = m.sender_id LEFT JOIN users ru ON ru.id = m.receiver_id
          LEFT JOIN rooms rm ON rm.id = m.room_id
        WHERE m.id > ${after} AND m.id <= ${upTo} AND m.deleted_at IS NULL ORDER BY m.id LIMIT ${limit}`.pipe(
        Effect.map((rows) =>
          rows.map((row) => ({
            message: toMessage(row),
            senderId: row.senderId,
            receiverId: row.receiverId,
            roomId: row.roomId
          }))
        )
      )

    /** The newest message id (0 for none). */
    const newestId = sql<{ n: number | null }>`SELECT max(id) AS n FROM messages`.pipe(
      Effect.map((rows) => rows[0]?.n ?? 0)
    )

    return {
      history,
      replay,
      unreadCount,
      dmSender,
      markRead,
      stored,
      edit,
      softDelete,
      committed,
      newestId
    } as const
  })
}) {}
