/**
 * Rooms, memberships, invitations, bans, mutes and the audit log, on both
 * backends (see the `rooms` migrations). Reads run at once; every write is
 * an effect for the group commit (`GroupCommit.write`), so it commits with
 * the batch it lands in and in the one writer's order.
 *
 * `general` is the row with id 0: every user is its member without a row;
 * a row there only records a role other than `member` or a read mark.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { AuditAction, Role, RoomInfo, Visibility } from "@parley/protocol"
import { Effect, Option } from "effect"
import type { Actor, Sanction } from "./Authorization.ts"

export const GENERAL_ID = 0

export interface RoomRow {
  readonly id: number
  readonly name: string
  readonly visibility: Visibility
  readonly topic: string
}

interface InfoRow extends RoomRow {
  readonly members: number
  readonly role: Role | null
  readonly unread: number
}

export interface MemberRow {
  readonly userId: number
  readonly username: string
  readonly role: Role
}

/** "never" stands for a sanction without expiry, so that no row (null) stays distinct from it. */
const sanctionOf = (value: string | null): Sanction | undefined =>
  value === null ? undefined : { expiresAt: value === "never" ? null : value }

const roleOrder = (sql: SqlClient.SqlClient) => sql`CASE role WHEN 'owner' THEN 0 WHEN 'moderator' THEN 1 ELSE 2 END`

const toInfo = (row: InfoRow): RoomInfo => ({
  name: row.name,
  visibility: row.visibility,
  topic: row.topic,
  members: row.members,
  role: row.role,
  unread: row.role === null ? 0 : row.unread
})

export class RoomsRepo extends Effect.Service<RoomsRepo>()("@parley/server/RoomsRepo", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    /** A live room by name, without regard to case (`general` included). */
    const find = (name: string) =>
      sql<RoomRow>`SELECT id, name, visibility, topic FROM rooms WHERE name = ${name} AND deleted_at IS NULL`.pipe(
        Effect.map((rows) => Option.fromNullable(rows[0])),
        Effect.orDie
      )

    /** The members and owners of a room (for `general`: every account, no owners). */
    const counts = (roomId: number) =>
      (roomId === GENERAL_ID
        ? sql<{ members: number; owners: number }>`SELECT count(*) AS members, 0 AS owners FROM users`
        : sql<{ members: number; owners: number }>`
          SELECT count(*) AS members, coalesce(sum(CASE WHEN role = 'owner' THEN 1 ELSE 0 END), 0) AS owners
          FROM room_members WHERE room_id = ${roomId}`).pipe(
          Effect.map((rows) => ({ members: Number(rows[0]!.members), owners: Number(rows[0]!.owners) })),
          Effect.orDie
        )

    /** What `authorize` needs to know of a user in a room at `now`. */
    const actor = (roomId: number, userId: number, now: string) =>
      sql<{ admin: number; role: Role | null; ban: string | null; mute: string | null; invited: number | null }>`
        SELECT u.is_admin AS admin,
          (SELECT role FROM room_members WHERE room_id = ${roomId} AND user_id = u.id) AS role,
          (SELECT coalesce(expires_at, 'never') FROM room_bans WHERE room_id = ${roomId} AND user_id = u.id
             AND (expires_at IS NULL OR expires_at > ${now})) AS ban,
          (SELECT coalesce(expires_at, 'never') FROM room_mutes WHERE room_id = ${roomId} AND user_id = u.id
             AND (expires_at IS NULL OR expires_at > ${now})) AS mute,
          (SELECT 1 FROM room_invites WHERE room_id = ${roomId} AND user_id = u.id AND expires_at > ${now}) AS invited
        FROM users u WHERE u.id = ${userId}`.pipe(
        Effect.map((rows): Actor => {
          const row = rows[0]!
          return {
            userId,
            admin: Number(row.admin) === 1,
            role: row.role ?? (roomId === GENERAL_ID ? "member" : null),
            ban: sanctionOf(row.ban),
            mute: sanctionOf(row.mute),
            invited: row.invited !== null
          }
        }),
        Effect.orDie
      )

    /** `general`'s entry for a user: every account a member, unread after their read mark. */
    const generalInfo = (userId: number) =>
      sql<InfoRow>`
        SELECT r.id, r.name, r.visibility, r.topic, (SELECT count(*) FROM users) AS members,
          coalesce(m.role, 'member') AS role,
          (SELECT count(*) FROM messages WHERE receiver_id IS NULL AND room_id IS NULL AND deleted_at IS NULL
             AND id > coalesce(m.read_mark, 0) AND sender_id <> ${userId}) AS unread
        FROM rooms r LEFT JOIN room_members m ON m.room_id = r.id AND m.user_id = ${userId}
        WHERE r.id = ${GENERAL_ID}`.pipe(Effect.map((rows) => toInfo(rows[0]!)), Effect.orDie)

    /** Rooms other than `general` as a user sees them: `membersOnly` the ones they are in, else those and every public one. */
    const infos = (userId: number, membersOnly: boolean, roomId?: number) =>
      sql<InfoRow>`
        SELECT r.id, r.name, r.visibility, r.topic,
          (SELECT count(*) FROM room_members c WHERE c.room_id = r.id) AS members, m.role,
          CASE WHEN m.role IS NULL THEN 0 ELSE
            (SELECT count(*) FROM messages WHERE room_id = r.id AND id > m.read_mark AND sender_id <> ${userId}
               AND deleted_at IS NULL) END AS unread
        FROM rooms r LEFT JOIN room_members m ON m.room_id = r.id AND m.user_id = ${userId}
        WHERE r.deleted_at IS NULL AND r.id <> ${GENERAL_ID}
          AND ${membersOnly ? sql`m.role IS NOT NULL` : sql`(m.role IS NOT NULL OR r.visibility = 'public')`}
          ${roomId === undefined ? sql`` : sql`AND r.id = ${roomId}`}
        ORDER BY r.name`.pipe(
        Effect.map((rows) => rows.map((row) => toInfo({ ...row, members: Number(row.members) }))),
        Effect.orDie
      )

    /** `general` first, then the user's rooms (or also every public one) by name. */
    const list = (userId: number, membersOnly: boolean) =>
      Effect.zipWith(generalInfo(userId), infos(userId, membersOnly), (general, rest) => [general, ...rest])

    /** One room as a user sees it. */
    const info = (roomId: number, userId: number) =>
      roomId === GENERAL_ID ? generalInfo(userId) : Effect.map(infos(userId, false, roomId), (rows) => rows[0]!)

    /** The ids of the rooms (not `general`) a user is a member of. */
    const memberships = (userId: number) =>
      sql<{ room_id: number }>`SELECT room_id FROM room_members WHERE user_id = ${userId} AND room_id <> ${GENERAL_ID}`
        .pipe(Effect.map((rows) => rows.map((r) => r.room_id)), Effect.orDie)

    /** A room's members with a role row, owners first, then moderators, then members, each by name. */
    const members = (roomId: number, limit: number) =>
      sql<MemberRow>`
        SELECT m.user_id AS "userId", u.username, m.role FROM room_members m JOIN users u ON u.id = m.user_id
        WHERE m.room_id = ${roomId} ${roomId === GENERAL_ID ? sql`AND m.role <> 'member'` : sql``}
        ORDER BY ${roleOrder(sql)}, u.username LIMIT ${limit}`.pipe(Effect.orDie)

    const userIds = (roomId: number) =>
      sql<{ user_id: number }>`SELECT user_id FROM room_members WHERE room_id = ${roomId}`.pipe(
        Effect.map((rows) => rows.map((r) => r.user_id)),
        Effect.orDie
      )

    // writes, for GroupCommit.write

    /** Creates a room with its owner; none when the name is taken. */
    const create = (name: string, visibility: Visibility, topic: string, userId: number, now: string) =>
      Effect.gen(function*() {
        const rows = yield* sql<{ id: number }>`
          INSERT INTO rooms (name, visibility, topic, created_by, created_at)
          VALUES (${name}, ${visibility}, ${topic}, ${userId}, ${now}) ON CONFLICT DO NOTHING RETURNING id`
        const id = rows[0]?.id
        if (id === undefined) return Option.none<number>()
        yield* sql`INSERT INTO room_members (room_id, user_id, role, read_mark, joined_at)
                   VALUES (${id}, ${userId}, 'owner', 0, ${now})`
        return Option.some(id)
      }).pipe(Effect.orDie)

    /** Makes a user a member (using up an invitation), nothing unread; false when already one. */
    const join = (roomId: number, userId: number, now: string) =>
      Effect.gen(function*() {
        yield* sql`DELETE FROM room_invites WHERE room_id = ${roomId} AND user_id = ${userId}`
        const rows = yield* sql<{ user_id: number }>`
          INSERT INTO room_members (room_id, user_id, role, read_mark, joined_at)
          VALUES (${roomId}, ${userId}, 'member',
                  coalesce((SELECT max(id) FROM messages WHERE room_id = ${roomId}), 0), ${now})
          ON CONFLICT DO NOTHING RETURNING user_id`
        return rows.length > 0
      }).pipe(Effect.orDie)

    /** Removes a member; a room left empty is deleted. True when it was deleted. */
    const leave = (roomId: number, userId: number, now: string) =>
      Effect.gen(function*() {
        yield* sql`DELETE FROM room_members WHERE room_id = ${roomId} AND user_id = ${userId}`
        const left = yield* sql<{ n: number }>`SELECT count(*) AS n FROM room_members WHERE room_id = ${roomId}`
        if (Number(left[0]!.n) > 0) return false
        yield* remove(roomId, now)
        return true
      }).pipe(Effect.orDie)

    /** Deletes a room softly: its messages and audit entries stay, everything else about it goes. */
    const remove = (roomId: number, now: string) =>
      Effect.gen(function*() {
        yield* sql`UPDATE rooms SET deleted_at = ${now} WHERE id = ${roomId}`
        for (const table of ["room_members", "room_invites", "room_bans", "room_mutes"]) {
          yield* sql`DELETE FROM ${sql(table)} WHERE room_id = ${roomId}`
        }
      }).pipe(Effect.orDie)

    const setTopic = (roomId: number, topic: string) =>
      sql`UPDATE rooms SET topic = ${topic} WHERE id = ${roomId}`.pipe(Effect.asVoid, Effect.orDie)

    /** Invites a user for 7 days; an unexpired invitation is left as it is. */
    const invite = (roomId: number, userId: number, by: number, now: string, expiresAt: string) =>
      sql`INSERT INTO room_invites (room_id, user_id, invited_by, expires_at) VALUES (${roomId}, ${userId}, ${by}, ${expiresAt})
          ON CONFLICT (room_id, user_id) DO UPDATE SET invited_by = excluded.invited_by, expires_at = excluded.expires_at
          WHERE room_invites.expires_at <= ${now}`.pipe(Effect.asVoid, Effect.orDie)

    /**
     * A new account's read mark in `general`: its latest message, so that, as
     * after a JOIN, nothing before the account existed counts as unread (and
     * the count never scans the whole timeline).
     */
    const startGeneral = (userId: number, now: string) =>
      sql`INSERT INTO room_members (room_id, user_id, role, read_mark, joined_at)
          VALUES (${GENERAL_ID}, ${userId}, 'member',
                  coalesce((SELECT max(id) FROM messages WHERE receiver_id IS NULL AND room_id IS NULL), 0), ${now})
          ON CONFLICT DO NOTHING`.pipe(Effect.asVoid, Effect.orDie)

    /** Moves a user's read mark in a room forward (never back). */
    const markRead = (roomId: number, userId: number, messageId: number, now: string) =>
      sql`INSERT INTO room_members (room_id, user_id, role, read_mark, joined_at)
          VALUES (${roomId}, ${userId}, 'member', ${messageId}, ${now})
          ON CONFLICT (room_id, user_id) DO UPDATE SET read_mark = excluded.read_mark
          WHERE room_members.read_mark < excluded.read_mark`.pipe(Effect.asVoid, Effect.orDie)

    /** Whether a message of the room (not deleted) has this id. */
    const hasMessage = (roomId: number, messageId: number) =>
      (roomId === GENERAL_ID
        ? sql`SELECT 1 AS x FROM messages WHERE id = ${messageId} AND receiver_id IS NULL AND room_id IS NULL
              AND deleted_at IS NULL`
        : sql`SELECT 1 AS x FROM messages WHERE id = ${messageId} AND room_id = ${roomId} AND deleted_at IS NULL`).pipe(
          Effect.map((rows) => rows.length > 0),
          Effect.orDie
        )

    /** Appends to a room's audit log. */
    const audit = (entry: {
      readonly roomId: number
      readonly actorId: number
      readonly action: string
      readonly target: string
      readonly reason: string | null
      readonly expiresAt: string | null
      readonly at: string
    }) =>
      sql`INSERT INTO room_audit (room_id, actor_id, action, target, reason, expires_at, timestamp)
          VALUES (${entry.roomId}, ${entry.actorId}, ${entry.action}, ${entry.target}, ${entry.reason},
                  ${entry.expiresAt}, ${entry.at})`.pipe(Effect.asVoid, Effect.orDie)

    /** Gives a member (in `general`, any user) a role; false when they are not a member. */
    const setRole = (roomId: number, userId: number, role: Role, now: string) =>
      (roomId === GENERAL_ID
        ? sql<{ user_id: number }>`
          INSERT INTO room_members (room_id, user_id, role, read_mark, joined_at) VALUES (${roomId}, ${userId}, ${role}, 0, ${now})
          ON CONFLICT (room_id, user_id) DO UPDATE SET role = excluded.role RETURNING user_id`
        : sql<{ user_id: number }>`
          UPDATE room_members SET role = ${role} WHERE room_id = ${roomId} AND user_id = ${userId} RETURNING user_id`)
        .pipe(Effect.map((rows) => rows.length > 0), Effect.orDie)

    /** Bans (or mutes) a user, replacing an earlier one; a ban also ends their membership and invitation. */
    const sanction = (
      kind: "ban" | "mute",
      s: {
        readonly roomId: number
        readonly userId: number
        readonly by: number
        readonly expiresAt: string | null
        readonly reason: string | null
        readonly at: string
      }
    ) =>
      Effect.gen(function*() {
        const table = kind === "ban" ? "room_bans" : "room_mutes"
        yield* sql`
          INSERT INTO ${sql(table)} (room_id, user_id, expires_at, by_id, reason, created_at)
          VALUES (${s.roomId}, ${s.userId}, ${s.expiresAt}, ${s.by}, ${s.reason}, ${s.at})
          ON CONFLICT (room_id, user_id) DO UPDATE SET expires_at = excluded.expires_at, by_id = excluded.by_id,
            reason = excluded.reason, created_at = excluded.created_at`
        if (kind === "ban") {
          yield* sql`DELETE FROM room_invites WHERE room_id = ${s.roomId} AND user_id = ${s.userId}`
          yield* sql`DELETE FROM room_members WHERE room_id = ${s.roomId} AND user_id = ${s.userId}`
        }
      }).pipe(Effect.orDie)

    /** Lifts a ban (or mute) in force; false when there was none. */
    const lift = (kind: "ban" | "mute", roomId: number, userId: number, now: string) =>
      sql<{ user_id: number }>`
        DELETE FROM ${sql(kind === "ban" ? "room_bans" : "room_mutes")}
        WHERE room_id = ${roomId} AND user_id = ${userId} AND (expires_at IS NULL OR expires_at > ${now})
        RETURNING user_id`.pipe(Effect.map((rows) => rows.length > 0), Effect.orDie)

    /** The moderators and owners of a room. */
    const moderators = (roomId: number) =>
      sql<{ user_id: number }>`
        SELECT user_id FROM room_members WHERE room_id = ${roomId} AND role IN ('owner', 'moderator')`.pipe(
        Effect.map((rows) => new Set(rows.map((r) => r.user_id))),
        Effect.orDie
      )

    /** A page of a room's audit log, newest first (`limit + 1` rows: the caller tells has_more). */
    const auditPage = (roomId: number, before: number | undefined, limit: number) =>
      sql<{
        id: number
        actor: string
        action: AuditAction
        target: string
        reason: string | null
        expires_at: string | null
        timestamp: string
      }>`
        SELECT a.id, u.username AS actor, a.action, a.target, a.reason, a.expires_at, a.timestamp
        FROM room_audit a JOIN users u ON u.id = a.actor_id
        WHERE a.room_id = ${roomId} ${before === undefined ? sql`` : sql`AND a.id < ${before}`}
        ORDER BY a.id DESC LIMIT ${limit + 1}`.pipe(Effect.orDie)

    /** Whether any mute in `general` is in force now (for the MSG fast path's cache). */
    const generalMutes = (now: string) =>
      sql<{ user_id: number; expires_at: string | null }>`
        SELECT user_id, expires_at FROM room_mutes WHERE room_id = ${GENERAL_ID}
          AND (expires_at IS NULL OR expires_at > ${now})`.pipe(Effect.orDie)

    /** The bans and mutes in force now in rooms other than `general` (for the room MSG fast path). */
    const roomSanctions = (now: string) =>
      sql<{ kind: "ban" | "mute"; room_id: number; user_id: number; expires_at: string | null }>`
        SELECT 'ban' AS kind, room_id, user_id, expires_at FROM room_bans WHERE room_id <> ${GENERAL_ID}
          AND (expires_at IS NULL OR expires_at > ${now})
        UNION ALL
        SELECT 'mute' AS kind, room_id, user_id, expires_at FROM room_mutes WHERE room_id <> ${GENERAL_ID}
          AND (expires_at IS NULL OR expires_at > ${now})`.pipe(Effect.orDie)

    return {
      setRole,
      sanction,
      lift,
      moderators,
      auditPage,
      generalMutes,
      roomSanctions,
      find,
      counts,
      actor,
      list,
      info,
      memberships,
      members,
      userIds,
      create,
      join,
      leave,
      remove,
      setTopic,
      invite,
      markRead,
      startGeneral,
      hasMessage,
      audit
    } as const
  })
}) {}
