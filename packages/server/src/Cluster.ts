/**
 * A node of a cluster (`--bus`): several server processes on one PostgreSQL
 * database and one bus are one chat service.
 *
 * - The database is the log, the bus a doorbell. After each group commit the
 *   node publishes the batch's messages in one notice; every node puts its
 *   own and the others' messages through its `Feed`, which delivers them to
 *   its connections in `message_id` order, each once, and repairs any gap (a
 *   dropped notice, a bus outage) from the database.
 * - Everything else a command does to connections (receipts, room events,
 *   revocations, locks, general mutes, presence) goes out as a `Relay` op.
 * - Presence: each node has a row in `cluster_nodes` with a heartbeat on the
 *   database's clock. Every node reaps rows older than `STALE_SECONDS`: the
 *   dead node's open sessions get their `disconnect_time`, and its users are
 *   counted out (PRESENCE offline) by every node. After a bus outage, and at
 *   start, a node reads who the other nodes hold from the open sessions.
 *
 * Without `--bus` none of this runs: the node is the whole service, the hub
 * delivers at once, and nothing is published.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import type { Message } from "@parley/protocol"
import { type Cause, DateTime, Deferred, Effect, Exit, FiberId, FiberSet, Schedule } from "effect"
import { Bus } from "./Bus.ts"
import { Feed, type FeedEntry } from "./Feed.ts"
import { GroupCommit } from "./GroupCommit.ts"
import { Hub, type Publication } from "./Hub.ts"
import { MessagesRepo } from "./MessagesRepo.ts"
import { Metrics } from "./Metrics.ts"
import { Presence } from "./Presence.ts"
import { type Op, Relay } from "./Relay.ts"
import { RoomsRepo } from "./RoomsRepo.ts"
import { ServerConfig } from "./ServerConfig.ts"
import { describeFault } from "./StorageHealth.ts"
import { TokensRepo } from "./TokensRepo.ts"
import { UsersRepo } from "./UsersRepo.ts"

/** How often a node's heartbeat is written, and the others' checked. */
const HEARTBEAT_SECONDS = 5
/** A node whose heartbeat is older than this is dead (killed, cut off): counted out within 30 s. */
const STALE_SECONDS = 15
/** How long a gap may wait for its notice before it is read from the database. */
const GAP_WAIT_MS = 25
/** How often the newest committed id is read, for messages no notice announced. */
const TAIL_MS = 1000
/** How long a settled op waits for the bus to pass it on (a bus outage must not hold a reply). */
const SETTLE_MS = 250
/** Messages one notice carries at most (at 4,096 characters each, about 2 MiB). */
const NOTICE_MESSAGES = 128
/** Rows one repair reads at most. */
const REPAIR_ROWS = 2000

/** A message as a notice carries it: id, sender, receiver, room id, from, to, room, text, timestamp. */
type WireMessage = [number, number, number | null, number | null, string, string | null, string | null, string, string]

/** What travels on the bus: a batch of committed messages, an op, or a node's start or death. */
type Notice =
  | { readonly n: string; readonly m: ReadonlyArray<WireMessage> }
  | { readonly n: string; readonly o: Op; readonly echo?: number }
  | { readonly n: string; readonly started: true }
  | { readonly n: string; readonly gone: ReadonlyArray<string> }

const toWire = (p: Publication): WireMessage => {
  const m = p.message
  return [m.message_id, p.senderId, p.receiverId, p.roomId, m.from, m.to, m.room ?? null, m.text, m.timestamp]
}

const isId = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) > 0
const isIdOrNull = (x: unknown) => x === null || isId(x)
const isTextOrNull = (x: unknown) => x === null || typeof x === "string"

/** A message from a notice, checked field by field before it can reach the feed; throws otherwise. */
const fromWire = (wire: unknown): Publication => {
  if (!Array.isArray(wire) || wire.length !== 9) throw new Error("not a message")
  const [id, senderId, receiverId, roomId, from, to, room, text, timestamp] = wire as WireMessage
  if (
    !isId(id) || !isId(senderId) || !isIdOrNull(receiverId) || !isIdOrNull(roomId) || typeof from !== "string" ||
    !isTextOrNull(to) || !isTextOrNull(room) || typeof text !== "string" || typeof timestamp !== "string"
  ) throw new Error("not a message")
  const message: Message = { type: "MESSAGE", message_id: id, from, to, room, text, timestamp }
  return { message, senderId, receiverId, roomId }
}

const entry = (p: Publication): FeedEntry<Publication> => ({ id: p.message.message_id, item: p })

export class Cluster extends Effect.Service<Cluster>()("@parley/server/Cluster", {
  scoped: Effect.gen(function*() {
    const config = yield* ServerConfig
    const none: { readonly feed: Feed<Publication> | undefined } = { feed: undefined }
    if (config.bus === undefined) return none
    const bus = yield* Bus
    const sql = yield* SqlClient.SqlClient
    const relay = yield* Relay
    const hub = yield* Hub
    const presence = yield* Presence
    const messages = yield* MessagesRepo
    const commit = yield* GroupCommit
    const rooms = yield* RoomsRepo
    const users = yield* UsersRepo
    const tokens = yield* TokensRepo
    const metrics = yield* Metrics
    const run = yield* FiberSet.makeRuntime<never>()
    const me = config.nodeId
    const publish = (notice: Notice) => bus.publish(JSON.stringify(notice))

    // ---- this node's row: written before any session it holds ----
    yield* sql`
      INSERT INTO cluster_nodes (node_id) VALUES (${me})
      ON CONFLICT (node_id) DO UPDATE SET started_at = now(), heartbeat_at = now()`.pipe(Effect.orDie)
    yield* Effect.addFinalizer(() =>
      sql`DELETE FROM cluster_nodes WHERE node_id = ${me}`.pipe(
        Effect.catchAllCause((cause) =>
          Effect.logWarning(`could not leave the cluster cleanly: ${describeFault(cause)}`)
        )
      )
    )

    // ---- the ordered feed of every node's messages ----
    const feed: Feed<Publication> = new Feed<Publication>({
      delivered: yield* messages.newestId.pipe(Effect.orDie),
      deliver: (e) => hub.deliverMessage(e.item),
      gapWaitMs: GAP_WAIT_MS,
      schedule: (ms, onTimer) => void setTimeout(onTimer, ms).unref(),
      now: () => performance.now(),
      repair: (after, upTo) => {
        metrics.gapRepaired()
        run(
          messages.committed(after, upTo, REPAIR_ROWS).pipe(
            Effect.map((rows) => afterOwnCommit(() => feed.repaired(upTo, rows.map(entry), rows.length < REPAIR_ROWS))),
            Effect.catchAllCause((cause) =>
              Effect.zipRight(
                Effect.logDebug(`repairing messages ${after + 1}..${upTo} failed: ${describeFault(cause)}`),
                Effect.sync(() => feed.repairFailed())
              )
            )
          )
        )
      }
    })
    // A repair's read can see this node's own batch committed before the group commit has told
    // its senders: delivered from the read, a message would reach its sending connection as a
    // MESSAGE (rows carry no connection). Such a read is applied once that batch has been offered
    // with its senders, after which its rows are skipped as delivered.
    let afterCommit: Array<() => void> = []
    const afterOwnCommit = (apply: () => void): void => {
      if (commit.storingMessages()) afterCommit.push(apply)
      else apply()
    }
    commit.afterEachBatch(() => {
      if (afterCommit.length === 0) return
      const due = afterCommit
      afterCommit = []
      for (const apply of due) apply()
    })
    let outgoing: Array<WireMessage> = []
    hub.setFeed((publication) => {
      outgoing.push(toWire(publication))
      feed.offer([entry(publication)])
    })
    // one notice per group commit, after it (a big batch in several: Redis drops a subscriber
    // whose output buffer passes 8 MiB for a minute, and every node reads every notice)
    commit.afterEachBatch(() => {
      for (let at = 0; at < outgoing.length; at += NOTICE_MESSAGES) {
        publish({ n: me, m: outgoing.slice(at, at + NOTICE_MESSAGES) })
      }
      outgoing = []
    })
    // a settled op carries a number; the node waits for its own notice to come back through the bus
    const echoes = new Map<number, Deferred.Deferred<void>>()
    let nextEcho = 1
    const sendSettled = (op: Op) =>
      Effect.suspend(() => {
        const echo = nextEcho++
        const back = Deferred.unsafeMake<void>(FiberId.none)
        echoes.set(echo, back)
        publish({ n: me, o: op, echo })
        return Deferred.await(back).pipe(
          Effect.timeout(SETTLE_MS),
          Effect.ignore,
          Effect.ensuring(Effect.sync(() => echoes.delete(echo)))
        )
      })
    relay.attach((op) => publish({ n: me, o: op }), sendSettled)

    // ---- who the other nodes hold, from the database ----
    const resyncPresence = sql<{ node_id: string; user_id: number; username: string }>`
      SELECT DISTINCT s.node_id, s.user_id, u.username FROM sessions s
      JOIN cluster_nodes n ON n.node_id = s.node_id JOIN users u ON u.id = s.user_id
      WHERE s.disconnect_time IS NULL AND s.node_id <> ${me}`.pipe(
      Effect.map((rows) => presence.resync(rows.map((r) => ({ node: r.node_id, userId: r.user_id, name: r.username }))))
    )

    // Redis pub/sub sends a node its own notices back. Its message batches (most of what it
    // hears under load) are recognised by their first characters and dropped unread by the bus:
    // JSON.stringify keeps the key order the notice was built with, `n` first.
    const ownMessages = `${JSON.stringify({ n: me }).slice(0, -1)},"m":`
    const onNotice = (text: string): void => {
      let notice: Notice
      try {
        notice = JSON.parse(text) as Notice
        if (typeof notice !== "object" || notice === null || typeof notice.n !== "string") throw new Error("no node")
      } catch {
        return malformed(text)
      }
      if (notice.n === me) {
        if ("echo" in notice && notice.echo !== undefined) {
          const back = echoes.get(notice.echo)
          if (back !== undefined) Deferred.unsafeDone(back, Exit.void)
        }
        return
      }
      // a notice this version cannot apply (a newer node's, a broken one) must not take the node down
      try {
        if ("m" in notice) feed.offer((notice.m as ReadonlyArray<unknown>).map((m) => entry(fromWire(m))))
        else if ("o" in notice) {
          if (!relay.receive(notice.o, notice.n)) malformed(text)
        } else if ("started" in notice) presence.nodeGone(notice.n) // a restart: what it held before is gone
        else if ("gone" in notice) { for (const node of notice.gone) presence.nodeGone(node) }
      } catch {
        malformed(text)
      }
    }

    // said at most once a minute: a stream of bad notices must not flood the log either
    let lastMalformed = 0
    const malformed = (text: string): void => {
      const now = Date.now()
      if (now - lastMalformed < 60_000) return
      lastMalformed = now
      run(
        Effect.logWarning(
          `ignored a notice on the bus that this node cannot read: ${JSON.stringify(text.slice(0, 80))}`
        )
      )
    }

    // ---- the bus: outages logged once at their start and end; catch up from the database after ----
    let everUp = false
    let downSince: number | undefined
    let busUp = false
    metrics.source("busUp", () => (busUp ? 1 : 0))
    const onStatus = (up: boolean): void => {
      busUp = up
      if (!up) {
        downSince = Date.now()
        run(
          Effect.logWarning(
            `bus ${bus.describe} unreachable: serving this node's clients; other nodes' messages come from the database until it is back`
          )
        )
        return
      }
      if (everUp && downSince !== undefined) {
        run(
          Effect.logInfo(`bus ${bus.describe} reachable again after ${((Date.now() - downSince) / 1000).toFixed(1)} s`)
        )
      }
      const wasOut = everUp
      everUp = true
      downSince = undefined
      const catchUp = Effect.zipRight(resyncPresence, Effect.zipRight(checkTail, wasOut ? catchUpLocal : Effect.void))
      run(catchUp.pipe(Effect.catchAllCause(logFault("catching up after the bus"))))
    }

    const checkTail = Effect.map(messages.newestId, (newest) => feed.tail(newest))

    /**
     * After a bus outage, what other nodes changed meanwhile and this node did
     * not hear: the room memberships of its users, tokens revoked, accounts
     * locked. Read per user this node holds.
     */
    const catchUpLocal = Effect.suspend(() =>
      Effect.forEach(hub.localUsers(), (userId) =>
        Effect.gen(function*() {
          hub.setRooms(userId, yield* rooms.memberships(userId))
          if ((yield* users.standing(userId)).lockedAt !== null) return hub.lockLocal(userId)
          const held = new Set([...hub.peersOf(userId)].map((peer) => peer.auth.tokenHash))
          const valid = new Set(yield* tokens.existing([...held]))
          hub.revokeLocal(userId, new Set([...held].filter((hash) => !valid.has(hash))))
        }), { discard: true })
    )

    /** Heartbeat, and the reaping of dead nodes: their sessions closed, their users counted out everywhere. */
    // since when this node's heartbeats have been getting through: after a database outage every
    // node's heartbeat is stale, so none reaps another until all have had the time to beat again
    let beatingSince: number | undefined = Date.now()

    /** Heartbeat, and the reaping of dead nodes: their sessions closed, their users counted out everywhere. */
    const heartbeat = Effect.gen(function*() {
      const mine = yield* sql`UPDATE cluster_nodes SET heartbeat_at = now() WHERE node_id = ${me} RETURNING node_id`
      beatingSince ??= Date.now()
      if (mine.length === 0) yield* rejoin
      if (Date.now() - beatingSince < STALE_SECONDS * 1000) return
      yield* reap
    }).pipe(Effect.tapErrorCause(() =>
      Effect.sync(() => {
        beatingSince = undefined
      })
    ))

    /**
     * Counted out by another node while cut off: back in the table, this
     * node's open sessions open again in it, and its users announced again.
     */
    const rejoin = Effect.gen(function*() {
      yield* sql`INSERT INTO cluster_nodes (node_id) VALUES (${me}) ON CONFLICT (node_id) DO NOTHING`
      const held: Array<number> = []
      for (const userId of hub.localUsers()) {
        const peers = [...hub.peersOf(userId)]
        for (const peer of peers) held.push(peer.auth.sessionId)
        const first = peers[0]
        if (first !== undefined) relay.send({ k: "presence", user: userId, name: first.auth.username, online: true })
      }
      if (held.length > 0) yield* sql`UPDATE sessions SET disconnect_time = NULL WHERE id IN ${sql.in(held)}`
      yield* Effect.logWarning(
        `this node was counted out of the cluster while cut off; it has rejoined with ${held.length} sessions`
      )
    })

    const reap = Effect.gen(function*() {
      const now = DateTime.formatIso(yield* DateTime.now)
      const dead = yield* sql<{ node_id: string }>`
        DELETE FROM cluster_nodes WHERE heartbeat_at < now() - make_interval(secs => ${STALE_SECONDS})
        RETURNING node_id`
      const live = new Set((yield* sql<{ node_id: string }>`SELECT node_id FROM cluster_nodes`).map((r) => r.node_id))
      // sessions of nodes no longer in the table (just reaped, or never seen by this node)
      const closed = yield* sql<{ id: number }>`
        UPDATE sessions SET disconnect_time = ${now}
        WHERE disconnect_time IS NULL AND node_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM cluster_nodes n WHERE n.node_id = sessions.node_id)
        RETURNING id`
      const gone = [...new Set([...dead.map((r) => r.node_id), ...[...hub.remote.nodes()].filter((n) => !live.has(n))])]
      for (const node of gone) presence.nodeGone(node)
      if (dead.length > 0) {
        publish({ n: me, gone: dead.map((r) => r.node_id) })
        yield* Effect.logWarning(
          `counted out node${dead.length > 1 ? "s" : ""} ${
            dead.map((r) => r.node_id).join(", ")
          }: no heartbeat for ${STALE_SECONDS} s; closed ${closed.length} of its sessions`
        )
      }
    })

    const logFault = (what: string) => (cause: Cause.Cause<unknown>) =>
      Effect.logDebug(`${what} failed: ${describeFault(cause)}`)

    // what the others hold now, before this node's first client logs in
    yield* resyncPresence.pipe(Effect.catchAllCause(logFault("reading the cluster's presence")))
    yield* bus.listen({ notice: onNotice, status: onStatus, ownPrefix: ownMessages })
    publish({ n: me, started: true })
    // a bus that is down at start is said once too (it is not an outage that began: it never came up)
    yield* Effect.forkScoped(Effect.delay(
      Effect.suspend(() => (everUp || downSince !== undefined ? Effect.void : Effect.sync(() => onStatus(false)))),
      "3 seconds"
    ))
    yield* Effect.forkScoped(
      heartbeat.pipe(
        Effect.catchAllCause(logFault("the cluster heartbeat")),
        Effect.repeat(Schedule.spaced(`${HEARTBEAT_SECONDS} seconds`))
      )
    )
    yield* Effect.forkScoped(
      checkTail.pipe(
        Effect.catchAllCause(logFault("reading the newest message")),
        Effect.repeat(Schedule.spaced(TAIL_MS))
      )
    )
    yield* Effect.logInfo(`node ${me} joined the cluster on bus ${bus.describe}`)
    return { ...none, feed }
  })
}) {}
