/**
 * A cluster as operators run it: real server processes, each a node started
 * with `--bus` on one PostgreSQL database and the machine's Redis, clients
 * on every node. What must hold, whatever happens to a node or to the bus:
 * every acknowledged message stored once, and shown to every receiver once,
 * in message_id order, the same order on every node.
 */
import { assert, describe, it } from "@effect/vitest"
import { type Duration, Effect, Fiber, Schedule, type Scope } from "effect"
import { Redis } from "ioredis"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import Pg from "pg"
import { channelFor } from "../src/Bus.ts"
import { freshPgDatabase, postgresAvailable } from "./support/Postgres.ts"
import { metricsPort, scrape, value } from "./support/Prometheus.ts"
import { redisAvailable, testRedis } from "./support/Redis.ts"
import { repoRoot, type ServerProcess, type ServerProcessError, spawnServer, tempDir } from "./support/ServerProcess.ts"
import { type TcpProxy, tcpProxy } from "./support/TcpProxy.ts"
import { type Frame, logIn, PASSWORD, say, signUp, type Wire } from "./support/Wire.ts"

const redis = new URL(testRedis)

/** A node on `db`, on the test Redis or on `bus` (a proxy in front of it). */
const node = (db: string, id: string, bus = redis.toString()) =>
  spawnServer({ db, flags: ["--bus", bus, "--node-id", id, "--replay-cap", "10000", "--metrics-port", "0"] })

const messageIds = (wire: Wire): Array<number> =>
  wire.received.filter((f) => f.type === "MESSAGE").map((f) => f.message_id as number)

const ackedIds = (wire: Wire): Array<number> =>
  wire.received.filter((f) => f.type === "ACK").map((f) => f.message_id as number)

/** Sends `count` MSGs in one write, each with its own client_msg_id `<tag>-<i>`. */
const burst = (wire: Wire, tag: string, count: number, from = 0) =>
  wire.write(
    Array.from(
      { length: count },
      (_, i) =>
        JSON.stringify({ command: "MSG", text: `${tag} ${from + i}`, client_msg_id: `${tag}-${from + i}` }) + "\n"
    ).join("")
  )

/**
 * Sends `count` MSGs ten at a time, each ten only once the ones before are
 * ACKed, so a node that dies meets a sender in the middle; stops early when
 * the connection closes.
 */
const steadily = (wire: Wire, tag: string, count: number) =>
  Effect.gen(function*() {
    for (let from = 0; from < count && !wire.isClosed; from += 10) {
      yield* burst(wire, tag, Math.min(10, count - from), from)
      yield* until(wire, () => wire.isClosed || ackedIds(wire).length >= Math.min(count, from + 10)).pipe(
        Effect.catchAll(() => Effect.void)
      )
    }
  })

/** Waits until `wire` has received MESSAGEs with every id of `ids` (bounded by `wait`). */
const receivedAll = (wire: Wire, ids: ReadonlyArray<number>, wait: Duration.DurationInput = "30 seconds") =>
  Effect.gen(function*() {
    const want = new Set(ids)
    yield* until(wire, () => messageIds(wire).filter((id) => want.has(id)).length >= want.size, wait)
  })

/** Waits until `done()` holds, checking as frames arrive (bounded by `wait`). */
const until = (wire: Wire, done: () => boolean, wait: Duration.DurationInput = "30 seconds") =>
  done() ? Effect.void : Effect.asVoid(wire.pick(() => done(), wait))

/** Rows of a query on the cluster's database. */
const query = (db: string, text: string) =>
  Effect.promise(async () => {
    const client = new Pg.Client({ connectionString: db })
    await client.connect()
    try {
      return (await client.query<Record<string, unknown>>(text)).rows
    } finally {
      await client.end()
    }
  })

/** The messages stored, and their distinct (sender, client_msg_id) keys. */
const storedCounts = (db: string) =>
  Effect.map(
    query(db, "SELECT count(*) AS rows, count(DISTINCT (sender_id, client_msg_id)) AS keys FROM messages"),
    (rows) => ({ rows: Number(rows[0]!.rows), keys: Number(rows[0]!.keys) })
  )

/** Waits until `seconds` have passed on the database's clock (read directly), the clock heartbeats are on. */
const staleFor = (db: string, seconds: number) =>
  Effect.gen(function*() {
    const since = String((yield* query(db, "SELECT now()::text AS t"))[0]!.t)
    yield* query(db, `SELECT 1 WHERE now() > '${since}'::timestamptz + interval '${seconds} seconds'`).pipe(
      Effect.filterOrFail((rows) => rows.length > 0),
      Effect.retry(Schedule.spaced("250 millis").pipe(Schedule.upTo(`${seconds + 20} seconds`)))
    )
  })

/** Each node's last heartbeat, by node id. */
const heartbeats = (db: string) =>
  Effect.map(
    query(db, "SELECT node_id, heartbeat_at::text AS at FROM cluster_nodes"),
    (rows) => new Map(rows.map((r) => [String(r.node_id), String(r.at)]))
  )

/** Waits until `done` holds of the heartbeats, polling the table (bounded). */
const heartbeatsWhere = (db: string, done: (beats: Map<string, string>) => boolean) =>
  heartbeats(db).pipe(
    Effect.filterOrFail(done),
    Effect.retry(Schedule.spaced("250 millis").pipe(Schedule.upTo("60 seconds")))
  )

/**
 * Waits until each of `nodes` has beaten twice after `since`: a reap comes
 * right after the beat that allows it, in the same round, so the second
 * beat shows that the first one's round is over.
 */
const beatenTwiceSince = (db: string, since: string, nodes: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const after = (at: string | undefined, than: string) => at !== undefined && Date.parse(at) > Date.parse(than)
    const first = yield* heartbeatsWhere(db, (beats) => nodes.every((n) => after(beats.get(n), since)))
    yield* heartbeatsWhere(db, (beats) => nodes.every((n) => after(beats.get(n), first.get(n)!)))
  })

const assertOnceInOrder = (seen: ReadonlyArray<number>, label: string) => {
  for (let i = 1; i < seen.length; i++) {
    assert.isAbove(seen[i]!, seen[i - 1]!, `${label}: ${seen[i]} after ${seen[i - 1]} (out of order or twice)`)
  }
}

/** A fresh database and two nodes on it; `db` is the database's own address, never a proxy's. */
interface TwoNodes {
  readonly db: string
  readonly n1: ServerProcess
  readonly n2: ServerProcess
}

const twoNodes: Effect.Effect<TwoNodes, ServerProcessError, Scope.Scope> = Effect.gen(function*() {
  const db = yield* freshPgDatabase
  const n1 = yield* node(db, "n1")
  const n2 = yield* node(db, "n2")
  return { db, n1, n2 }
})

/**
 * Two nodes as `twoNodes`, with a TCP proxy the test can cut in front of n2's bus, of n2's
 * database, or of the database for both nodes.
 */
const twoNodesBehind = (
  cut: "n2's bus" | "n2's database" | "the database"
): Effect.Effect<TwoNodes & { readonly proxy: TcpProxy }, ServerProcessError, Scope.Scope> =>
  Effect.gen(function*() {
    const db = yield* freshPgDatabase
    if (cut === "n2's bus") {
      const proxy = yield* tcpProxy(redis.hostname, Number(redis.port || 6379))
      const n1 = yield* node(db, "n1")
      const n2 = yield* node(db, "n2", `redis://127.0.0.1:${proxy.port}`)
      return { db, n1, n2, proxy }
    }
    const url = new URL(db)
    const proxy = yield* tcpProxy(url.hostname, Number(url.port || 5432))
    url.host = `127.0.0.1:${proxy.port}`
    const n1 = yield* node(cut === "the database" ? url.toString() : db, "n1")
    const n2 = yield* node(url.toString(), "n2")
    return { db, n1, n2, proxy }
  })

/** Waits until `wire` is told that `user` is `status` (bounded by `wait`). */
const told = (wire: Wire, user: string, status: "online" | "offline", wait?: Duration.DurationInput) =>
  wire.pick((f) => f.type === "PRESENCE" && f.user === user && f.status === status, wait)

/** alice signed up on `n1` and bob on `n2`, once alice is told bob is online: each node knows the other's user. */
const aliceAndBob = (n1: ServerProcess, n2: ServerProcess) =>
  Effect.gen(function*() {
    const alice = yield* signUp(n1.port, "alice")
    const bob = yield* signUp(n2.port, "bob")
    yield* told(alice.wire, "bob", "online")
    return { alice, bob }
  })

describe.skipIf(!(postgresAvailable && redisAvailable)).concurrent("cluster", () => {
  it.scopedLive(
    "kill -9 of a node during a burst from both nodes: its clients move to the other node; every ACKed message is stored once and shown once, in order; its users are counted out within 30 s",
    () =>
      Effect.gen(function*() {
        const { db, n1, n2 } = yield* twoNodes
        const watcher = yield* signUp(n1.port, "watcher")
        const r1 = yield* signUp(n1.port, "recv1")
        const r2 = yield* signUp(n2.port, "recv2")
        const s1 = yield* signUp(n1.port, "send1")
        const s2 = yield* signUp(n2.port, "send2")
        const victim = yield* signUp(n2.port, "victim")
        yield* told(watcher.wire, "victim", "online")
        victim.wire.drainPending()

        const count = 600
        const writer1 = yield* Effect.fork(steadily(s1.wire, "s1", count))
        const writer2 = yield* Effect.fork(steadily(s2.wire, "s2", count))
        // the node dies with some of s2's messages acknowledged and the rest not
        yield* until(s2.wire, () => ackedIds(s2.wire).length >= 100)
        yield* n2.kill
        yield* Fiber.join(writer2)
        yield* s2.wire.closed()
        yield* r2.wire.closed()

        // s2 and r2 come back through the other node, by token, resuming after what they saw
        const s2Acked = new Set(s2.wire.received.filter((f) => f.type === "ACK").map((f) => String(f.client_msg_id)))
        const s2Again = yield* logIn(n1.port, "send2", { token: s2.connected.token })
        const unacked = Array.from({ length: count }, (_, i) => i).filter((i) => !s2Acked.has(`s2-${i}`))
        yield* s2Again.wire.write(
          unacked.map((i) => JSON.stringify({ command: "MSG", text: `s2 ${i}`, client_msg_id: `s2-${i}` }) + "\n")
            .join("")
        )
        assert.isAbove(unacked.length, 0, "the node died with MSGs not yet acknowledged")
        yield* until(s2Again.wire, () => ackedIds(s2Again.wire).length >= unacked.length)
        const r2Seen = messageIds(r2.wire)
        const r2Again = yield* logIn(n1.port, "recv2", {
          token: r2.connected.token,
          resume_after: r2Seen.at(-1) ?? 0
        })
        yield* Fiber.join(writer1)

        const acked = [...ackedIds(s1.wire), ...ackedIds(s2.wire), ...ackedIds(s2Again.wire)]
        assert.strictEqual(new Set(acked).size, 2 * count, "every message ACKed once (a resend gets the first ACK)")
        const stored = yield* storedCounts(db)
        assert.strictEqual(stored.rows, 2 * count, "each message stored once")
        assert.strictEqual(stored.keys, 2 * count)
        for (const receiver of [r1.wire, r2Again.wire, watcher.wire]) {
          yield* receivedAll(receiver, receiver === r2Again.wire ? acked.filter((id) => !r2Seen.includes(id)) : acked)
        }
        assertOnceInOrder(messageIds(r1.wire), "r1, on the surviving node throughout")
        assertOnceInOrder([...r2Seen, ...messageIds(r2Again.wire)], "r2, before the kill and after its resume")
        assert.deepStrictEqual(
          [...r2Seen, ...messageIds(r2Again.wire)].sort((a, b) => a - b),
          [...new Set(acked)].sort((a, b) => a - b),
          "r2 saw every ACKed message, once"
        )

        // the victim did not come back: counted out by the surviving node
        const offline = yield* told(watcher.wire, "victim", "offline", "30 seconds")
        assert.deepStrictEqual(offline, { type: "PRESENCE", user: "victim", status: "offline" })
        const users = yield* watcher.wire.ask({ command: "USERS" }, "USERS")
        assert.notInclude(users.online as Array<string>, "victim")
        yield* n1.waitForOutput(/counted out node n2/)
        // and the surviving node recorded the end of every session the dead one held
        const open = yield* query(
          db,
          "SELECT count(*) AS n FROM sessions WHERE node_id = 'n2' AND disconnect_time IS NULL"
        )
        assert.strictEqual(Number(open[0]!.n), 0)
        const victims = yield* query(
          db,
          "SELECT s.disconnect_time FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.username = 'victim'"
        )
        assert.isNotEmpty(victims)
        for (const row of victims) assert.isNotNull(row.disconnect_time)
      }),
    120_000
  )

  it.scopedLive(
    "a node's bus connection cut during a burst and restored: no receiver misses or doubles a message, order holds; the outage is logged once at its start and once at its end",
    () =>
      Effect.gen(function*() {
        const { n1, n2, proxy } = yield* twoNodesBehind("n2's bus")
        const r1 = yield* signUp(n1.port, "recv1")
        const r2 = yield* signUp(n2.port, "recv2")
        const s1 = yield* signUp(n1.port, "send1")
        const s2 = yield* signUp(n2.port, "send2")
        yield* told(r2.wire, "send1", "online")

        const count = 400
        yield* burst(s1.wire, "s1", count / 2)
        yield* burst(s2.wire, "s2", count / 2)
        yield* until(s1.wire, () => ackedIds(s1.wire).length >= 20)
        yield* proxy.cut
        yield* n2.waitForOutput(/bus redis:\/\/127\.0\.0\.1:\d+ unreachable/)
        const during = yield* scrape(metricsPort(n2))
        assert.strictEqual(value(during.samples, "parley_cluster_bus_up"), 0)
        const repairsBefore = value(during.samples, "parley_cluster_gap_repairs_total")
        yield* burst(s1.wire, "s1", count / 2, count / 2)
        yield* burst(s2.wire, "s2", count / 2, count / 2)
        // while the bus is out, n2's clients still get n1's messages, from the database
        yield* until(s1.wire, () => ackedIds(s1.wire).length >= count)
        yield* receivedAll(r2.wire, ackedIds(s1.wire))
        yield* proxy.restore
        yield* n2.waitForOutput(/reachable again after/)
        const after = yield* scrape(metricsPort(n2))
        assert.strictEqual(value(after.samples, "parley_cluster_bus_up"), 1)
        // n1's messages of the outage came to n2 from the database
        assert.isAbove(value(after.samples, "parley_cluster_gap_repairs_total"), repairsBefore)
        yield* until(s2.wire, () => ackedIds(s2.wire).length >= count)

        const acked = [...ackedIds(s1.wire), ...ackedIds(s2.wire)]
        for (const receiver of [r1.wire, r2.wire]) {
          yield* receivedAll(receiver, acked)
          assertOnceInOrder(messageIds(receiver), receiver.label)
          assert.strictEqual(messageIds(receiver).length, acked.length, `${receiver.label}: each message once`)
        }
        assert.deepStrictEqual(messageIds(r1.wire), messageIds(r2.wire), "one order on both nodes")
        const output = n2.output()
        assert.strictEqual(output.match(/unreachable/g)?.length, 1, output)
        assert.strictEqual(output.match(/reachable again/g)?.length, 1, output)
      }),
    120_000
  )

  it.scopedLive(
    "PostgreSQL cut off from the whole cluster for longer than a heartbeat may be stale: MSG is UNAVAILABLE on every node and every connection stays; once it is back no node counts another out, and chat across nodes goes on",
    () =>
      Effect.gen(function*() {
        const { db: direct, n1, n2, proxy } = yield* twoNodesBehind("the database")
        const { alice, bob } = yield* aliceAndBob(n1, n2)
        const before = yield* say(alice.wire, "before the outage")
        yield* bob.wire.pick((f) => f.type === "MESSAGE" && f.message_id === before.message_id)

        yield* proxy.cut
        yield* alice.wire.send({ command: "MSG", text: "during", client_msg_id: "a-during", id: "a1" })
        assert.strictEqual((yield* alice.wire.reply("ERROR", "20 seconds")).code, "UNAVAILABLE")
        yield* bob.wire.send({ command: "MSG", text: "during", client_msg_id: "b-during", id: "b1" })
        assert.strictEqual((yield* bob.wire.reply("ERROR", "20 seconds")).code, "UNAVAILABLE")
        yield* n1.waitForOutput(/storage unavailable/)
        yield* n2.waitForOutput(/storage unavailable/)
        // the outage outlasts STALE_SECONDS: every heartbeat in the table is stale when it ends
        yield* staleFor(direct, 17)
        yield* alice.wire.ask({ command: "PING" }, "PONG")
        yield* bob.wire.ask({ command: "PING" }, "PONG")
        yield* proxy.restore

        // both nodes beat twice after the outage: a reap would have come with the first beat after it
        const restored = String((yield* query(direct, "SELECT now()::text AS t"))[0]!.t)
        yield* beatenTwiceSince(direct, restored, ["n1", "n2"])
        for (const n of [n1, n2]) assert.notMatch(n.output(), /counted out/, n.output())
        const open = yield* query(direct, "SELECT count(*) AS n FROM sessions WHERE disconnect_time IS NULL")
        assert.strictEqual(Number(open[0]!.n), 2, "alice's and bob's sessions are still open")
        for (const [wire, other] of [[alice.wire, "bob"], [bob.wire, "alice"]] as const) {
          const offline = wire.received.find((f) => f.type === "PRESENCE" && f.user === other && f.status === "offline")
          assert.isUndefined(offline, `${wire.label} was told ${other} went offline`)
        }
        const fromBob = yield* say(bob.wire, "after, from n2")
        yield* alice.wire.pick((f) => f.type === "MESSAGE" && f.message_id === fromBob.message_id)
        const fromAlice = yield* say(alice.wire, "after, from n1")
        yield* bob.wire.pick((f) => f.type === "MESSAGE" && f.message_id === fromAlice.message_id)
        assert.deepStrictEqual(messageIds(bob.wire), [before.message_id, fromAlice.message_id])
        assert.deepStrictEqual(messageIds(alice.wire), [fromBob.message_id])
        // each node's outage logged once each way (its end with the first write that went through)
        for (const n of [n1, n2]) {
          yield* n.waitForOutput(/storage available again/)
          assert.strictEqual(n.output().match(/storage unavailable/g)?.length, 1, n.output())
          assert.strictEqual(n.output().match(/storage available again/g)?.length, 1, n.output())
        }
      }),
    150_000
  )

  it.scopedLive(
    "a node cut off from PostgreSQL alone is counted out by the others; once it is back it rejoins: its users online again everywhere, its sessions open again, chat goes on",
    () =>
      Effect.gen(function*() {
        const { db: direct, n1, n2, proxy } = yield* twoNodesBehind("n2's database")
        const { alice, bob } = yield* aliceAndBob(n1, n2)

        yield* proxy.cut
        // n1 sees n2's heartbeat go stale and counts it out: bob offline for alice
        yield* n1.waitForOutput(/counted out node n2/, "40 seconds")
        yield* told(alice.wire, "bob", "offline", "10 seconds")
        // the bus still carries n1's messages to bob meanwhile
        const during = yield* say(alice.wire, "while n2 has no database")
        yield* bob.wire.pick((f) => f.type === "MESSAGE" && f.message_id === during.message_id, "10 seconds")
        yield* proxy.restore

        yield* n2.waitForOutput(/rejoined with 1 sessions/, "30 seconds")
        yield* told(alice.wire, "bob", "online", "10 seconds")
        const users = yield* alice.wire.ask({ command: "USERS" }, "USERS")
        assert.include(users.online as Array<string>, "bob")
        const bobs = yield* query(
          direct,
          "SELECT s.disconnect_time FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.username = 'bob'"
        )
        assert.deepStrictEqual(bobs.map((r) => r.disconnect_time), [null], "bob's session is open again")
        const fromBob = yield* say(bob.wire, "back, from n2")
        yield* alice.wire.pick((f) => f.type === "MESSAGE" && f.message_id === fromBob.message_id)
        assert.isFalse(alice.wire.isClosed || bob.wire.isClosed)
      }),
    150_000
  )

  it.scopedLive(
    "a kick and a REVOKE made on one node while another node's bus is out take effect there once it is back",
    () =>
      Effect.gen(function*() {
        const { n1, n2, proxy } = yield* twoNodesBehind("n2's bus")
        const owner = yield* signUp(n1.port, "owner")
        const ownerRooms = yield* logIn(n1.port, "owner", { password: PASSWORD, rooms: true })
        yield* ownerRooms.wire.ask({ command: "ROOM_CREATE", room: "ops", visibility: "public" }, "ROOM")
        const guest = yield* signUp(n2.port, "guest")
        const guestRooms = yield* logIn(n2.port, "guest", { password: PASSWORD, rooms: true })
        yield* guestRooms.wire.ask({ command: "JOIN", room: "ops" }, "ROOM")
        const first = yield* say(ownerRooms.wire, "before the outage", { room: "ops" })
        yield* guestRooms.wire.pick((f) => f.type === "MESSAGE" && f.message_id === first.message_id)

        yield* proxy.cut
        yield* n2.waitForOutput(/unreachable/)
        yield* ownerRooms.wire.ask({ command: "KICK", room: "ops", user: "guest" }, "OK")
        // the guest's first session (on n2) is revoked from n1, by its token on a new connection there
        const guestThere = yield* logIn(n1.port, "guest", { token: guest.connected.token })
        yield* guestThere.wire.ask({ command: "REVOKE", session_id: guest.connected.session_id }, "OK")
        yield* proxy.restore
        yield* n2.waitForOutput(/reachable again/)

        // the revoked session on n2 is ended there; the kicked connection gets nothing more of ops
        assert.deepStrictEqual(yield* guest.wire.pick((f) => f.type === "BYE"), { type: "BYE", reason: "revoked" })
        const after = yield* say(ownerRooms.wire, "after the kick", { room: "ops" })
        const marker = yield* say(owner.wire, "public marker")
        yield* guestRooms.wire.pick((f) => f.type === "MESSAGE" && f.message_id === marker.message_id)
        assert.isUndefined(
          guestRooms.wire.received.find((f) => f.type === "MESSAGE" && f.message_id === after.message_id),
          "a kicked member's connection got the room's message"
        )
      }),
    120_000
  )

  it.scopedLive(
    "notices a node cannot read (not JSON, wrong shapes, huge numbers, deep nesting) are ignored, logged once; it goes on serving",
    () =>
      Effect.gen(function*() {
        const { db, n1, n2 } = yield* twoNodes
        const { alice, bob } = yield* aliceAndBob(n1, n2)
        const deep = "[".repeat(5000) + "]".repeat(5000)
        const garbage = [
          "not json",
          "{}",
          "null",
          deep,
          JSON.stringify({ n: "x", m: "not a list" }),
          JSON.stringify({ n: "x", m: [[1, 2]] }),
          JSON.stringify({ n: "x", m: [["1", 1, null, null, "a", null, "general", "t", "ts"]] }),
          `{"n":"x","m":[[1e300,1,null,null,"a",null,"general","t","ts"]]}`,
          JSON.stringify({ n: "x", o: { k: "toUser", user: 1, frame: 123 } }),
          JSON.stringify({ n: "x", o: { k: "toRoom", room: "ops", frame: "{}" } }),
          JSON.stringify({ n: "x", o: { k: "revoke", user: 1, hashes: [1], sessions: [] } }),
          JSON.stringify({ n: "x", gone: 5 }),
          JSON.stringify({ n: 7, started: true })
        ]
        const publisher = yield* Effect.acquireRelease(
          Effect.sync(() => new Redis(redis.toString())),
          (client) => Effect.sync(() => client.disconnect())
        )
        const channel = channelFor(String((yield* query(db, "SELECT id FROM cluster_identity"))[0]!.id))
        for (const text of garbage) yield* Effect.promise(() => publisher.publish(channel, text))
        yield* n1.waitForOutput(/ignored a notice on the bus/)
        const hello = yield* say(alice.wire, "still here")
        assert.strictEqual((yield* bob.wire.pick((f) => f.type === "MESSAGE")).message_id, hello.message_id)
        const back = yield* say(bob.wire, "and here")
        assert.strictEqual((yield* alice.wire.pick((f) => f.type === "MESSAGE")).message_id, back.message_id)
        assert.strictEqual(n1.output().match(/ignored a notice/g)?.length, 1)
        assert.notMatch(n1.output() + n2.output(), /level=ERROR/)
      }),
    120_000
  )

  it.scopedLive(
    "three nodes, senders and receivers on all: every receiver sees one identical order, each message once",
    () =>
      Effect.gen(function*() {
        const db = yield* freshPgDatabase
        const nodes = [yield* node(db, "n1"), yield* node(db, "n2"), yield* node(db, "n3")]
        const receivers: Array<Wire> = []
        const senders: Array<Wire> = []
        for (const [i, n] of nodes.entries()) {
          receivers.push((yield* signUp(n.port, `recv${i}`)).wire)
          senders.push((yield* signUp(n.port, `send${i}`)).wire)
        }
        const each = 150
        yield* Effect.forEach(senders, (s, i) => burst(s, `s${i}`, each), { concurrency: "unbounded" })
        for (const s of senders) yield* until(s, () => ackedIds(s).length >= each)
        const acked = senders.flatMap(ackedIds)
        assert.strictEqual(new Set(acked).size, senders.length * each)
        for (const r of receivers) yield* receivedAll(r, acked)
        const orders = receivers.map((r) => messageIds(r).filter((id) => acked.includes(id)))
        for (const [i, order] of orders.entries()) {
          assertOnceInOrder(order, `r${i}`)
          assert.deepStrictEqual(order, orders[0], `r${i} and r0 saw one order`)
        }
        assert.deepStrictEqual(orders[0], [...acked].sort((a, b) => a - b))
        // and the frames themselves agree, text and all
        const texts = (r: Wire) =>
          r.received.filter((f: Frame) => f.type === "MESSAGE").map((f) => `${f.message_id} ${f.from} ${f.text}`)
        assert.deepStrictEqual(texts(receivers[1]!), texts(receivers[0]!))
        assert.deepStrictEqual(texts(receivers[2]!), texts(receivers[0]!))
      }),
    120_000
  )
})

/** Debian's HAProxy, when installed (`.ci/run` installs it). */
const haproxyBin = ["/usr/sbin/haproxy", "/usr/bin/haproxy"].find((bin) => Fs.existsSync(bin))

/** A free loopback port. */
const freePort = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const { port } = server.address() as Net.AddressInfo
    server.close(() => resume(Effect.succeed(port)))
  })
})

/** Waits until something accepts connections on `port` (bounded: 10 s). */
const listening = (port: number) =>
  Effect.async<boolean>((resume) => {
    const socket = Net.connect({ host: "127.0.0.1", port })
    socket.once("connect", () => {
      socket.destroy()
      resume(Effect.succeed(true))
    })
    socket.once("error", () => resume(Effect.succeed(false)))
  }).pipe(Effect.repeat({ until: (up) => up, times: 100, schedule: Schedule.spaced("100 millis") }))

/**
 * The real HAProxy with compose.yaml's `deploy/haproxy.cfg`, only its
 * addresses changed to these loopback ports; stopped with the scope.
 */
const haproxy = (nodePorts: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const dir = yield* tempDir
    const port = yield* freePort
    const config = Fs.readFileSync(Path.join(repoRoot, "deploy/haproxy.cfg"), "utf8")
      .replace(/bind :5555/, `bind 127.0.0.1:${port}`)
      .replace(/node1:5555/, `127.0.0.1:${nodePorts[0]}`)
      .replace(/node2:5555/, `127.0.0.1:${nodePorts[1]}`)
    const file = Path.join(dir, "haproxy.cfg")
    Fs.writeFileSync(file, config)
    yield* Effect.acquireRelease(
      Effect.sync(() => ChildProcess.spawn(haproxyBin!, ["-db", "-f", file], { stdio: "ignore" })),
      (child) => Effect.sync(() => child.kill("SIGKILL"))
    )
    yield* listening(port)
    return port
  })

describe.skipIf(!(postgresAvailable && redisAvailable && haproxyBin !== undefined))("cluster behind HAProxy", () => {
  it.scopedLive(
    "deploy/haproxy.cfg in front of two nodes: people on different nodes chat; SIGTERM drains a node, its clients reconnect through the balancer by token and nothing is lost",
    () =>
      Effect.gen(function*() {
        const { n1, n2 } = yield* twoNodes
        const port = yield* haproxy([n1.port, n2.port])
        // leastconn: two held connections land on the two nodes
        const alice = yield* signUp(port, "alice")
        const bob = yield* signUp(port, "bob")
        yield* n1.waitForOutput(/logged in.*user=(alice|bob)/)
        yield* n2.waitForOutput(/logged in.*user=(alice|bob)/)
        const hello = yield* say(alice.wire, "hello from one node")
        assert.strictEqual((yield* bob.wire.pick((f) => f.type === "MESSAGE")).message_id, hello.message_id)
        const onN1 = /logged in.*user=alice/.test(n1.output()) ? alice : bob
        const other = onN1 === alice ? bob : alice

        // drain n1: BYE shutdown, then back in through the balancer with the token
        yield* n1.signal("SIGTERM")
        assert.deepStrictEqual(yield* onN1.wire.pick((f) => f.type === "BYE"), { type: "BYE", reason: "shutdown" })
        const meanwhile = yield* say(other.wire, "sent while the node drains")
        const back = yield* logIn(port, String(onN1.connected.user), {
          token: onN1.connected.token,
          resume_after: hello.message_id
        })
        const replayed = yield* back.wire.pick((f) => f.type === "MESSAGE")
        assert.strictEqual(replayed.message_id, meanwhile.message_id)
        const after = yield* say(back.wire, "back, through the other node")
        assert.strictEqual((yield* other.wire.pick((f) => f.type === "MESSAGE")).message_id, after.message_id)
        const exit = yield* n1.exited
        assert.deepStrictEqual(exit, { code: 0, signal: null })
      }),
    120_000
  )
})
