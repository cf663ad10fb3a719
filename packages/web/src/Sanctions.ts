/**
 * The bans and mutes in force in a room, read from its audit log. The protocol has no command
 * that lists them (docs/protocol.md, "Moderation"), but every BAN, UNBAN, MUTE and UNMUTE is an
 * audit entry with its expiry, so the newest such entry per user says whether one still holds.
 * Pure, with the clock passed in, so it is tested without a browser.
 */
import type { ChatClient } from "@parley/client/browser"
import type { Effect } from "effect"

/** One entry of a room's audit log, as the client's `audit` answers it. */
export type AuditEntry = Effect.Effect.Success<ReturnType<ChatClient.Service["audit"]>>["entries"][number]

/** A ban or mute that holds now. */
export interface Sanction {
  readonly kind: "ban" | "mute"
  readonly user: string
  readonly by: string
  readonly reason: string | null
  /** `null`: until lifted. */
  readonly expiresAt: string | null
  readonly since: string
}

const kindOf = (action: AuditEntry["action"]) =>
  action === "ban" || action === "unban" ? "ban" : action === "mute" || action === "unmute" ? "mute" : undefined

/**
 * The sanctions in force at `now`, from entries newest first (as AUDIT pages them): for each user
 * and kind the newest entry decides, a lift ends it and an expiry in the past has ended it.
 */
export const inForce = (entries: ReadonlyArray<AuditEntry>, now: number): Array<Sanction> => {
  const decided = new Set<string>()
  const holding: Array<Sanction> = []
  for (const entry of entries) {
    const kind = kindOf(entry.action)
    if (kind === undefined) continue
    const key = `${kind}:${entry.target.toLowerCase()}`
    if (decided.has(key)) continue
    decided.add(key)
    if (entry.action !== kind) continue
    if (entry.expires_at !== null && Date.parse(entry.expires_at) <= now) continue
    holding.push({
      kind,
      user: entry.target,
      by: entry.actor,
      reason: entry.reason,
      expiresAt: entry.expires_at,
      since: entry.timestamp
    })
  }
  return holding
}
