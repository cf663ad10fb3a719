/**
 * The bans and mutes in force, read from a room's audit log (newest first): the newest entry per
 * user and kind decides, a lift or a past expiry ends a sanction, and other actions do not count.
 */
import { assert, describe, it } from "@effect/vitest"
import { type AuditEntry, inForce } from "../src/Sanctions.ts"

const now = Date.parse("2026-12-07T15:00:00.000Z")
let nextId = 100
const entry = (
  action: AuditEntry["action"],
  target: string,
  expires_at: string | null = null,
  reason: string | null = null
): AuditEntry => ({
  id: nextId--,
  actor: "olive",
  action,
  target,
  reason,
  expires_at,
  timestamp: "2026-12-07T14:00:00.000Z"
})

describe("inForce", () => {
  it("a ban holds until an unban, which the newest entry shows", () => {
    const entries = [entry("unban", "tess"), entry("ban", "tess"), entry("ban", "Max", null, "spam")]
    assert.deepStrictEqual(inForce(entries, now).map((s) => [s.kind, s.user, s.reason]), [["ban", "Max", "spam"]])
  })

  it("a ban after an unban holds again; names match without regard to case", () => {
    const entries = [entry("ban", "Tess"), entry("unban", "tess"), entry("ban", "tess")]
    assert.deepStrictEqual(inForce(entries, now).map((s) => s.user), ["Tess"])
  })

  it("an expired ban or mute has ended; one that expires later holds", () => {
    const entries = [
      entry("mute", "ann", "2026-12-07T14:59:59.999Z"),
      entry("mute", "bea", "2026-12-07T15:10:00.000Z"),
      entry("ban", "cy", "2026-12-07T15:00:00.000Z")
    ]
    assert.deepStrictEqual(inForce(entries, now).map((s) => [s.kind, s.user, s.expiresAt]), [[
      "mute",
      "bea",
      "2026-12-07T15:10:00.000Z"
    ]])
  })

  it("bans and mutes of one user are apart; kicks, roles and topics count for neither", () => {
    const entries = [
      entry("unmute", "dan"),
      entry("kick", "dan"),
      entry("role", "dan", null, "moderator"),
      entry("topic", "dan"),
      entry("mute", "dan"),
      entry("ban", "dan")
    ]
    assert.deepStrictEqual(inForce(entries, now).map((s) => s.kind), ["ban"])
  })
})
