/**
 * SESSIONS and REVOKE (protocol v1.1): a user's open sessions on every node,
 * and the revocation of sessions with the tokens they logged in with. On a
 * node of a cluster the sessions other nodes hold are read from the
 * database, and the revocation reaches them through the hub's relay.
 */
import type { Revoke, SessionInfo, Sessions } from "@parley/protocol"
import { NotFound } from "@parley/protocol"
import { Clock, DateTime, Effect } from "effect"
import type { CommandTable, Shared } from "./Command.ts"
import { withId } from "./Command.ts"
import type { LoggedIn } from "./Connection.ts"
import type { Hub, Member } from "./Hub.ts"
import type { OpenSession } from "./SessionsRepo.ts"

/** The user's sessions on this node that are not being closed, oldest first. */
const openSessions = (hub: Hub, userId: number): Array<Member> => {
  const open: Array<Member> = []
  for (const peer of hub.peersOf(userId)) if (peer.closing === undefined) open.push(peer)
  return open.sort((a, b) => a.auth.sessionId - b.auth.sessionId)
}

/** The user's open sessions on the other nodes of a cluster (none for a node on its own). */
const elsewhere = ({ config, sessions }: Shared, userId: number): Effect.Effect<ReadonlyArray<OpenSession>> =>
  config.bus === undefined ? Effect.succeed([]) : sessions.openElsewhere(userId, config.nodeId)

const listSessions = (shared: Shared) => (command: Sessions, conn: LoggedIn) =>
  Effect.gen(function*() {
    const here: Array<SessionInfo> = openSessions(shared.hub, conn.auth.userId).map((peer) => ({
      session_id: peer.auth.sessionId,
      ip_address: peer.remoteAddress,
      connect_time: peer.auth.connectTime,
      current: peer === conn
    }))
    const there: Array<SessionInfo> = (yield* elsewhere(shared, conn.auth.userId)).map((row) => ({
      session_id: row.id,
      ip_address: row.ip_address ?? "",
      connect_time: row.connect_time,
      current: false
    }))
    const list = [...here, ...there].sort((a, b) => a.session_id - b.session_id)
    conn.send(withId({ type: "SESSIONS" as const, sessions: list }, command.id))
  })

/** A session as REVOKE sees it, on this node or another. */
interface Target {
  readonly sessionId: number
  readonly tokenHash: string
}

/**
 * Revokes sessions and the tokens they logged in with: the tokens are
 * deleted (committed before the OK), then every open session that used one
 * of them gets `BYE revoked`, on every node. `all_others` keeps the current
 * session's own token, since the current session keeps it.
 */
const revoke = (shared: Shared) => (command: Revoke, conn: LoggedIn) =>
  Effect.gen(function*() {
    const { commit, hub, revocations, tokens } = shared
    const me = conn.auth
    const there = (yield* elsewhere(shared, me.userId)).map((row) => ({
      sessionId: row.id,
      tokenHash: row.token_hash ?? ""
    }))
    const mine: Array<Target> = [...openSessions(hub, me.userId).map((peer) => peer.auth), ...there]
    const { hashes, sessionIds } = yield* revocationTargets(mine, command, conn)
    // the sessions other nodes hold end now, as far as SESSIONS on any node says; their nodes close them
    const remote = there.filter((s) => sessionIds.has(s.sessionId)).map((s) => s.sessionId)
    if (hashes.size > 0 || remote.length > 0) {
      const now = DateTime.formatIso(yield* DateTime.now)
      yield* commit.write(Effect.zipRight(tokens.revoke(hashes), shared.sessions.closeMany(remote, now)))
      revocations.add(hashes, yield* Clock.currentTimeMillis)
    }
    conn.send(withId({ type: "OK" as const }, command.id))
    // sessions that logged in with a revoked token since the list was taken go too
    hub.revoke(me.userId, hashes, sessionIds)
    yield* Effect.logInfo("sessions revoked").pipe(
      Effect.annotateLogs({ user: me.username, sessions: [...sessionIds].join(",") })
    )
  })

/** The token hashes a REVOKE revokes and the sessions it ends; NOT_FOUND for a session that is not the user's. */
const revocationTargets = (mine: ReadonlyArray<Target>, command: Revoke, conn: LoggedIn) =>
  Effect.suspend(() => {
    const hashes = new Set<string>()
    if (command.session_id !== undefined) {
      const target = mine.find((session) => session.sessionId === command.session_id)
      if (target === undefined) {
        return Effect.fail(new NotFound({ message: `no open session ${command.session_id} of yours` }))
      }
      hashes.add(target.tokenHash)
      const sessionIds = new Set(mine.filter((s) => s.tokenHash === target.tokenHash).map((s) => s.sessionId))
      return Effect.succeed({ hashes, sessionIds })
    }
    const others = mine.filter((session) => session.sessionId !== conn.auth.sessionId)
    for (const session of others) if (session.tokenHash !== conn.auth.tokenHash) hashes.add(session.tokenHash)
    return Effect.succeed({ hashes, sessionIds: new Set(others.map((s) => s.sessionId)) })
  })

/**
 * Tokens revoked in the last minute. A token login reads the token before
 * its session is recorded; a REVOKE that commits in between would otherwise
 * leave that session open with a revoked token.
 */
export class RecentRevocations {
  private readonly at = new Map<string, number>()
  private static readonly KEEP_MS = 60_000

  add(hashes: Iterable<string>, now: number): void {
    for (const [hash, when] of this.at) if (now - when > RecentRevocations.KEEP_MS) this.at.delete(hash)
    for (const hash of hashes) this.at.set(hash, now)
  }

  revoked(hash: string, now: number): boolean {
    const when = this.at.get(hash)
    return when !== undefined && now - when <= RecentRevocations.KEEP_MS
  }
}

/** The session commands' entries of the command table: after login only. */
export const sessionCommands = (shared: Shared): Pick<CommandTable, "SESSIONS" | "REVOKE"> => ({
  SESSIONS: { access: "member", handle: listSessions(shared) },
  REVOKE: { access: "member", handle: revoke(shared) }
})
