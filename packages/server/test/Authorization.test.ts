/**
 * The role table of docs/protocol.md ("Roles and who may do what") as a
 * table test: every actor kind × action × target kind against the table
 * written out here row by row, plus the rules beside it (self, last owner,
 * general, private rooms, bans, mutes).
 */
import { assert, describe, it } from "@effect/vitest"
import type { Role } from "@parley/protocol"
import { type Actor, authorize, type RoomAction, type RoomFacts, type Target } from "../src/Authorization.ts"

type Kind = "member" | "moderator" | "owner" | "admin"
type TargetKind = "member" | "moderator" | "owner" | "admin" | "outsider"

const ME = 1
const OTHER = 2

const actorOf = (kind: Kind, extra: Partial<Actor> = {}): Actor => ({
  userId: ME,
  admin: kind === "admin",
  role: kind === "admin" ? null : kind,
  ban: undefined,
  mute: undefined,
  invited: false,
  ...extra
})

const targetOf = (kind: TargetKind, newRole?: Role): Target => ({
  userId: OTHER,
  admin: kind === "admin",
  role: kind === "admin" ? "member" : kind === "outsider" ? null : kind,
  ...(newRole === undefined ? {} : { newRole })
})

const room = (visibility: "public" | "private", extra: Partial<RoomFacts> = {}): RoomFacts => ({
  name: "ops",
  visibility,
  members: 5,
  owners: 2,
  ...extra
})

/** The doc's table: who may act (on a target of each kind, for the moderation row). */
const mayModerate = (actor: Kind, target: TargetKind): boolean => {
  if (target === "admin") return false
  if (actor === "admin") return true
  if (actor === "owner") return target !== "owner"
  if (actor === "moderator") return target === "member" || target === "outsider"
  return false
}

const table: Record<
  Exclude<RoomAction, "JOIN" | "PART" | "EDIT" | "MARK_READ">,
  (actor: Kind, target: TargetKind) => boolean
> = {
  SEND: () => true,
  READ: () => true,
  MEMBERS: () => true,
  INVITE: (a) => a !== "member",
  TOPIC: (a) => a !== "member",
  KICK: mayModerate,
  BAN: mayModerate,
  UNBAN: mayModerate,
  MUTE: mayModerate,
  UNMUTE: mayModerate,
  DELETE: (a) => a !== "member",
  AUDIT: (a) => a !== "member",
  ROLE: (a) => a === "owner" || a === "admin",
  ROOM_DELETE: (a) => a === "owner" || a === "admin"
}

const kinds: ReadonlyArray<Kind> = ["member", "moderator", "owner", "admin"]
const targets: ReadonlyArray<TargetKind> = ["member", "moderator", "owner", "admin", "outsider"]

describe("authorize", () => {
  it("follows the role table for every actor, action and target in a private room", () => {
    let checked = 0
    for (const [action, allowed] of Object.entries(table) as Array<[RoomAction, (a: Kind, t: TargetKind) => boolean]>) {
      for (const actor of kinds) {
        for (const target of targets) {
          const refusal = authorize(actorOf(actor), action, room("private"), targetOf(target, "member"))
          const label = `${actor} ${action} ${target}`
          if (allowed(actor, target)) assert.isUndefined(refusal, label)
          else {
            assert.strictEqual(refusal?._tag, "Forbidden", label)
            assert.strictEqual((refusal as { action: string }).action, action, label)
          }
          checked++
        }
      }
    }
    assert.strictEqual(checked, Object.keys(table).length * kinds.length * targets.length)
  })

  it("in a public room any member may invite (a notice)", () => {
    for (const actor of kinds) assert.isUndefined(authorize(actorOf(actor), "INVITE", room("public")), actor)
  })

  it("nobody kicks, bans or mutes themselves; unban and unmute of oneself follow rank", () => {
    const self: Target = { userId: ME, admin: false, role: "owner" }
    for (const action of ["KICK", "BAN", "MUTE"] as const) {
      for (const actor of kinds) {
        const refusal = authorize(actorOf(actor), action, room("private"), { ...self, admin: actor === "admin" })
        assert.strictEqual((refusal as { action?: string } | undefined)?.action, "self", `${actor} ${action}`)
      }
    }
    assert.strictEqual(authorize(actorOf("owner"), "UNMUTE", room("private"), self)?._tag, "Forbidden")
  })

  it("a moderator cannot kick a moderator, with a message that says so", () => {
    const refusal = authorize(actorOf("moderator"), "KICK", room("private"), targetOf("moderator"))
    assert.strictEqual(refusal?.message, "a moderator cannot kick a moderator")
  })

  it("a private room does not exist to outsiders, except to JOIN with an invitation, and to admins", () => {
    const outsider = actorOf("member", { role: null })
    for (const action of Object.keys(table) as Array<RoomAction>) {
      assert.strictEqual(authorize(outsider, action, room("private"), targetOf("member"))?._tag, "NoSuchRoom", action)
    }
    assert.strictEqual(authorize(outsider, "JOIN", room("private"))?._tag, "NoSuchRoom")
    assert.strictEqual(authorize(outsider, "PART", room("private"))?._tag, "NoSuchRoom")
    assert.isUndefined(authorize({ ...outsider, invited: true }, "JOIN", room("private")))
    for (const action of ["READ", "MEMBERS", "SEND", "TOPIC", "AUDIT", "ROOM_DELETE"] as const) {
      assert.isUndefined(authorize(actorOf("admin"), action, room("private"), targetOf("member")), action)
    }
  })

  it("in a public room an outsider may join, read and list members, and is NOT_MEMBER for the rest", () => {
    const outsider = actorOf("member", { role: null })
    for (const action of ["JOIN", "READ", "MEMBERS"] as const) {
      assert.isUndefined(authorize(outsider, action, room("public")), action)
    }
    for (const action of ["SEND", "PART", "TOPIC", "INVITE", "KICK", "BAN", "AUDIT", "ROLE", "ROOM_DELETE"] as const) {
      assert.strictEqual(authorize(outsider, action, room("public"), targetOf("member"))?._tag, "NotMember", action)
    }
  })

  it("a ban refuses joining, reading and sending with BANNED and its expiry; admins are not held by one", () => {
    const ban = { expiresAt: "2026-12-07T15:10:00.000Z" }
    const banned = actorOf("member", { role: null, ban, invited: true })
    const cases = [
      ...(["JOIN", "READ", "SEND"] as const).map((action) => ["public", action] as const),
      // a private room still does not exist to an outsider; only an invitation makes the ban visible
      ["private", "JOIN"] as const
    ]
    for (const [visibility, action] of cases) {
      const refusal = authorize(banned, action, room(visibility))
      assert.strictEqual(refusal?._tag, "Banned", `${visibility} ${action}`)
      assert.strictEqual((refusal as { expiresAt: string | null }).expiresAt, ban.expiresAt)
    }
    assert.strictEqual(authorize(banned, "READ", room("private"))?._tag, "NoSuchRoom")
    assert.isUndefined(authorize(banned, "MEMBERS", room("public")))
    assert.strictEqual(authorize(actorOf("member", { role: null, ban }), "JOIN", room("private"))?._tag, "NoSuchRoom")
    assert.isUndefined(authorize(actorOf("admin", { ban }), "READ", room("private")))
  })

  it("leaving and a read mark need a membership, even of a server admin", () => {
    const admin = actorOf("admin")
    for (const action of ["PART", "MARK_READ"] as const) {
      assert.strictEqual(authorize(admin, action, room("public"))?._tag, "NotMember", action)
      assert.isUndefined(authorize(actorOf("member"), action, room("private")), action)
    }
  })

  it("a mute refuses sending only, with MUTED and its expiry", () => {
    const muted = actorOf("member", { mute: { expiresAt: null } })
    const refusal = authorize(muted, "SEND", room("public"))
    assert.strictEqual(refusal?._tag, "Muted")
    assert.isNull((refusal as { expiresAt: string | null }).expiresAt)
    assert.isUndefined(authorize(muted, "READ", room("public")))
  })

  it("general: nobody leaves it or deletes it; it has no owners; its moderators are appointed by admins", () => {
    const general = room("public", { name: "general", owners: 0 })
    for (const actor of kinds) {
      // in general every user is at least a member, server admins included
      const inGeneral = actorOf(actor, actor === "admin" ? { role: "member" } : {})
      assert.strictEqual((authorize(inGeneral, "PART", general) as { action?: string }).action, "part_general")
      const deleting = authorize(actorOf(actor), "ROOM_DELETE", general) as { action?: string }
      assert.strictEqual(deleting.action, "delete_general")
    }
    for (const action of ["KICK", "BAN", "UNBAN"] as const) {
      const refusal = authorize(actorOf("admin", { role: "member" }), action, general, targetOf("member"))
      assert.strictEqual((refusal as { action?: string }).action, action, action)
    }
    assert.isUndefined(authorize(actorOf("admin", { role: "member" }), "MUTE", general, targetOf("member")))
    assert.isUndefined(authorize(actorOf("admin"), "ROLE", general, targetOf("member", "moderator")))
    assert.strictEqual(authorize(actorOf("admin"), "ROLE", general, targetOf("member", "owner"))?._tag, "Forbidden")
    assert.strictEqual(
      authorize(actorOf("moderator"), "ROLE", general, targetOf("member", "moderator"))?._tag,
      "Forbidden"
    )
  })

  it("a room keeps an owner: the last owner can neither leave others behind nor step down", () => {
    const lastOwner = room("private", { owners: 1, members: 3 })
    const owner = actorOf("owner")
    assert.strictEqual((authorize(owner, "PART", lastOwner) as { action?: string }).action, "last_owner")
    assert.isUndefined(authorize(owner, "PART", room("private", { owners: 1, members: 1 })))
    assert.isUndefined(authorize(owner, "PART", room("private", { owners: 2, members: 3 })))
    const self = (newRole: Role): Target => ({ userId: ME, admin: false, role: "owner", newRole })
    assert.strictEqual(
      (authorize(owner, "ROLE", lastOwner, self("member")) as { action?: string }).action,
      "last_owner"
    )
    assert.isUndefined(authorize(owner, "ROLE", room("private", { owners: 2 }), self("moderator")))
    assert.isUndefined(authorize(owner, "ROLE", lastOwner, self("owner")))
  })

  it("EDIT is for one's own messages only; DELETE of one's own is allowed to any member", () => {
    const own: Target = { userId: ME, admin: false, role: "member" }
    for (const actor of kinds) {
      assert.isUndefined(authorize(actorOf(actor), "EDIT", room("public"), own), actor)
      assert.strictEqual(authorize(actorOf(actor), "EDIT", room("public"), targetOf("member"))?._tag, "Forbidden")
      assert.isUndefined(authorize(actorOf(actor), "DELETE", room("public"), own), actor)
    }
  })
})
