/**
 * The metrics endpoint against the real server process (`--metrics-port 0`):
 * `/metrics` parses as Prometheus text and its counters move by exactly what
 * happened on the wire, on SQLite and on PostgreSQL; `/healthz` is 200, turns
 * 503 while storage cannot be written (a SQLite file held by another
 * process's `BEGIN EXCLUSIVE`, PostgreSQL cut off behind a proxy) and 200
 * again once it can; other paths and methods are refused.
 */
import { assert, describe, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Effect } from "effect"
import { register as globalRegistry, type Registry } from "prom-client"
import { Metrics } from "../src/Metrics.ts"
import { makeRegistry } from "../src/MetricsRegistry.ts"
import { freshPgDatabase, postgresAvailable } from "./support/Postgres.ts"
import {
  type Exposition,
  metricsPort,
  parseExposition,
  request,
  type Samples,
  scrape,
  value
} from "./support/Prometheus.ts"
import { runServerCommand, spawnServer, tempDb } from "./support/ServerProcess.ts"
import { eventually } from "./support/SqliteFile.ts"
import { tcpProxy } from "./support/TcpProxy.ts"
import { logIn, say, signUp, Wire } from "./support/Wire.ts"

const withMetrics = (db: string) => spawnServer({ db, flags: ["--metrics-port", "0"] })

const codes = [
  "INVALID_JSON",
  "INVALID_COMMAND",
  "UNKNOWN_COMMAND",
  "FRAME_TOO_LARGE",
  "NOT_AUTHENTICATED",
  "ALREADY_AUTHENTICATED",
  "AUTH_FAILED",
  "USERNAME_TAKEN",
  "UNKNOWN_USER",
  "NOT_FOUND",
  "RATE_LIMITED",
  "UNAVAILABLE",
  "INTERNAL"
]
const reasons = [
  "idle",
  "slow_consumer",
  "shutdown",
  "too_many_connections",
  "auth_timeout",
  "revoked",
  "disconnect",
  "peer_closed"
]

/** Every counter of ours, with what it must have moved by between two scrapes. */
const counterDeltas = (expected: Readonly<Record<string, number>>): Record<string, number> => {
  const all: Record<string, number> = {
    "parley_connections_accepted_total": 0,
    "parley_messages_stored_total{kind=\"public\"}": 0,
    "parley_messages_stored_total{kind=\"direct\"}": 0,
    "parley_message_deliveries_total": 0,
    "parley_cluster_gap_repairs_total": 0
  }
  for (const code of codes) all[`parley_errors_sent_total{code="${code}"}`] = 0
  for (const reason of reasons) all[`parley_connections_closed_total{reason="${reason}"}`] = 0
  return { ...all, ...expected }
}

const deltas = (before: Samples, after: Samples, keys: ReadonlyArray<string>) =>
  Object.fromEntries(keys.map((key) => [key, value(after, key) - value(before, key)]))

/** Every `parley_*` family has HELP and a TYPE, and the process's own figures are there. */
const assertShape = ({ helped, samples, types }: Exposition) => {
  const ours = [...types.keys()].filter((name) => name.startsWith("parley_"))
  assert.includeMembers(ours, [
    "parley_connections_open",
    "parley_connections_authenticated",
    "parley_users_online",
    "parley_connections_accepted_total",
    "parley_connections_closed_total",
    "parley_messages_stored_total",
    "parley_message_deliveries_total",
    "parley_messages_replayed_total",
    "parley_errors_sent_total",
    "parley_group_commit_batch_size",
    "parley_group_commit_duration_seconds",
    "parley_password_hash_queue",
    "parley_storage_up",
    "parley_cluster_bus_up",
    "parley_cluster_gap_repairs_total"
  ])
  for (const name of ours) assert.isTrue(helped.has(name), `${name} has no HELP`)
  assert.strictEqual(types.get("parley_group_commit_batch_size"), "histogram")
  assert.strictEqual(types.get("parley_errors_sent_total"), "counter")
  assert.isAbove(value(samples, "process_resident_memory_bytes"), 0)
  assert.isAbove(value(samples, "process_open_fds"), 0)
  assert.isAtLeast(value(samples, "nodejs_eventloop_lag_p99_seconds"), 0)
}

/** Polls `/healthz` (bounded) until it answers `status`; returns that reply. */
const healthzBecomes = (port: number, status: number) =>
  Effect.gen(function*() {
    const reply = yield* eventually(request(port, "/healthz"), (r) => r.status === status, 15_000)
    assert.strictEqual(reply.status, status, `/healthz stayed ${reply.status}: ${reply.body}`)
    return reply
  })

/** register, login, MSGs, bad commands, closes: then every counter moved by exactly that. */
const countsTheWire = (db: string) =>
  Effect.gen(function*() {
    const server = yield* withMetrics(db)
    const port = metricsPort(server)
    const before = yield* scrape(port)
    assertShape(before)
    assert.strictEqual(value(before.samples, "parley_connections_open"), 0)

    const { wire: alice } = yield* signUp(server.port, "alice")
    const { wire: bob } = yield* signUp(server.port, "bob")
    yield* alice.expect("PRESENCE")
    yield* say(alice, "hello everyone")
    yield* bob.expect("MESSAGE")
    yield* say(alice, "hello bob", { to: "bob", client_msg_id: "dm-1" })
    yield* bob.expect("MESSAGE")
    // the same client_msg_id again: ACKed, neither stored nor delivered again
    yield* say(alice, "hello bob", { to: "bob", client_msg_id: "dm-1" })
    yield* alice.send({ command: "NOPE" })
    yield* alice.replyError("UNKNOWN_COMMAND")
    yield* alice.write("this is not json\n")
    yield* alice.replyError("INVALID_JSON")
    yield* alice.send({ command: "MSG", text: "anyone?", to: "nobody" })
    yield* alice.replyError("UNKNOWN_USER")
    // bob again, on a second connection: one more authenticated connection, not one more user
    const { wire: bob2 } = yield* logIn(server.port, "bob")
    const replayedFrames = (yield* bob2.sync()).filter((f) => f.type === "MESSAGE").length
    const carol = yield* Wire.connect(server.port, "carol")
    yield* carol.request({ command: "DISCONNECT" }, "BYE")
    const dave = yield* Wire.connect(server.port, "dave")
    dave.socket.destroy()

    const closed = (reason: string) => `parley_connections_closed_total{reason="${reason}"}`
    const after = yield* eventually(scrape(port), ({ samples }) =>
      value(samples, closed("disconnect")) - value(before.samples, closed("disconnect")) === 1 &&
      value(samples, closed("peer_closed")) - value(before.samples, closed("peer_closed")) === 1)
    assertShape(after)
    const expected = counterDeltas({
      "parley_connections_accepted_total": 5,
      "parley_messages_stored_total{kind=\"public\"}": 1,
      "parley_messages_stored_total{kind=\"direct\"}": 1,
      "parley_message_deliveries_total": 2,
      "parley_errors_sent_total{code=\"UNKNOWN_COMMAND\"}": 1,
      "parley_errors_sent_total{code=\"INVALID_JSON\"}": 1,
      "parley_errors_sent_total{code=\"UNKNOWN_USER\"}": 1,
      [closed("disconnect")]: 1,
      [closed("peer_closed")]: 1
    })
    assert.deepStrictEqual(deltas(before.samples, after.samples, Object.keys(expected)), expected)
    assert.strictEqual(
      value(after.samples, "parley_messages_replayed_total") - value(before.samples, "parley_messages_replayed_total"),
      replayedFrames
    )
    assert.strictEqual(value(after.samples, "parley_connections_open"), 3)
    assert.strictEqual(value(after.samples, "parley_connections_authenticated"), 3)
    assert.strictEqual(value(after.samples, "parley_users_online"), 2)
    assert.strictEqual(value(after.samples, "parley_storage_up"), 1)
    assert.strictEqual(value(after.samples, "parley_cluster_bus_up"), 1, "no --bus: no bus to lose")
    assert.strictEqual(value(after.samples, "parley_password_hash_queue{state=\"waiting\"}"), 0)
    assert.strictEqual(value(after.samples, "parley_password_hash_queue{state=\"running\"}"), 0)
    // a batch holds at least one write, and the histogram's buckets are cumulative
    const batches = value(after.samples, "parley_group_commit_batch_size_count") -
      value(before.samples, "parley_group_commit_batch_size_count")
    assert.isAtLeast(batches, 1)
    assert.strictEqual(
      value(after.samples, "parley_group_commit_batch_size_bucket{le=\"+Inf\"}"),
      value(after.samples, "parley_group_commit_batch_size_count")
    )
    assert.strictEqual(
      value(after.samples, "parley_group_commit_duration_seconds_count"),
      value(after.samples, "parley_group_commit_batch_size_count")
    )
    assert.isFalse(alice.isClosed || bob.isClosed || bob2.isClosed)

    const healthy = yield* request(port, "/healthz")
    assert.deepStrictEqual([healthy.status, healthy.body], [200, "ok\n"])
  })

describe.concurrent("metrics", () => {
  it.scopedLive(
    "SQLite: /metrics parses, and every counter moves by exactly what happened on the wire",
    () => Effect.flatMap(tempDb, countsTheWire),
    { timeout: 90_000 }
  )

  it.scopedLive.skipIf(!postgresAvailable)(
    "PostgreSQL: /metrics parses, and every counter moves by exactly what happened on the wire",
    () => Effect.flatMap(freshPgDatabase, countsTheWire),
    { timeout: 90_000 }
  )

  it.scopedLive(
    "SQLite held by another process's BEGIN EXCLUSIVE: /healthz 503 with the reason, then 200 once released",
    () =>
      Effect.gen(function*() {
        const db = yield* tempDb
        const server = yield* withMetrics(db)
        const port = metricsPort(server)
        yield* healthzBecomes(port, 200)
        const other = new Database(db)
        yield* Effect.addFinalizer(() => Effect.sync(() => other.close()))
        other.exec("BEGIN EXCLUSIVE")
        const down = yield* healthzBecomes(port, 503)
        assert.match(down.body, /^storage unavailable: [^\n]+\n$/)
        assert.strictEqual(value((yield* scrape(port)).samples, "parley_storage_up"), 0)
        other.exec("ROLLBACK")
        const up = yield* healthzBecomes(port, 200)
        assert.strictEqual(up.body, "ok\n")
        assert.strictEqual(value((yield* scrape(port)).samples, "parley_storage_up"), 1)
      }),
    { timeout: 90_000 }
  )

  it.scopedLive.skipIf(!postgresAvailable)(
    "PostgreSQL cut off behind a proxy: /healthz 503 with the reason, then 200 once restored",
    () =>
      Effect.gen(function*() {
        const url = new URL(yield* freshPgDatabase)
        const proxy = yield* tcpProxy(url.hostname, Number(url.port || 5432))
        url.host = `127.0.0.1:${proxy.port}`
        const server = yield* withMetrics(url.toString())
        const port = metricsPort(server)
        yield* healthzBecomes(port, 200)
        yield* proxy.cut
        const down = yield* healthzBecomes(port, 503)
        assert.match(down.body, /^storage unavailable: [^\n]+\n$/)
        yield* proxy.restore
        yield* healthzBecomes(port, 200)
        assert.strictEqual(value((yield* scrape(port)).samples, "parley_storage_up"), 1)
      }),
    { timeout: 90_000 }
  )

  it.scopedLive(
    "other paths are 404, other methods 405 (with Allow); HEAD is GET without a body",
    () =>
      Effect.gen(function*() {
        const server = yield* withMetrics(yield* tempDb)
        const port = metricsPort(server)
        for (const path of ["/", "/metric", "/metrics/", "/healthz/x", "/favicon.ico"]) {
          assert.strictEqual((yield* request(port, path)).status, 404, path)
        }
        assert.strictEqual((yield* request(port, "/nope", "POST")).status, 404)
        for (
          const [method, path] of [["POST", "/metrics"], ["PUT", "/healthz"], ["DELETE", "/metrics"], [
            "OPTIONS",
            "/healthz"
          ]] as const
        ) {
          const reply = yield* request(port, path, method)
          assert.strictEqual(reply.status, 405, `${method} ${path}`)
          assert.strictEqual(reply.headers.allow, "GET, HEAD")
        }
        const head = yield* request(port, "/healthz", "HEAD")
        assert.deepStrictEqual([head.status, head.body], [200, ""])
        assert.strictEqual((yield* request(port, "/metrics?name[]=parley_users_online")).status, 200)
      }),
    { timeout: 90_000 }
  )

  it.scopedLive(
    "off unless --metrics-port or PARLEY_METRICS_PORT asks for it; a port out of range is refused in one line; --help names both flags",
    () =>
      Effect.gen(function*() {
        const plain = yield* spawnServer()
        assert.notInclude(plain.output(), "metrics on")
        const fromEnv = yield* spawnServer({ env: { PARLEY_METRICS_PORT: "0", PARLEY_METRICS_HOST: "127.0.0.1" } })
        assert.strictEqual((yield* request(metricsPort(fromEnv), "/healthz")).status, 200)
        const refused = yield* runServerCommand(["--metrics-port", "70000"])
        assert.strictEqual(refused.code, 1, refused.output)
        assert.include(refused.output, "parley-server: --metrics-port must be 0..65535 (see --help)")
        const help = yield* runServerCommand(["--help"])
        for (const name of ["--metrics-port", "--metrics-host", "PARLEY_METRICS_PORT", "PARLEY_METRICS_HOST"]) {
          assert.include(help.output, name)
        }
      }),
    { timeout: 90_000 }
  )

  it.effect("two servers in one process count apart, and the library's global registry stays empty", () =>
    Effect.gen(function*() {
      const first = yield* Effect.provide(Metrics, Metrics.Default)
      const second = yield* Effect.provide(Metrics, Metrics.Default)
      const registries = [makeRegistry(first), makeRegistry(second)]
      first.errorSent("INTERNAL")
      first.delivered(3)
      const read = (registry: Registry) =>
        Effect.map(Effect.promise(() => registry.metrics()), (text) => parseExposition(text).samples)
      const [one, two] = yield* Effect.forEach(registries, read)
      assert.strictEqual(value(one!, "parley_errors_sent_total{code=\"INTERNAL\"}"), 1)
      assert.strictEqual(value(two!, "parley_errors_sent_total{code=\"INTERNAL\"}"), 0)
      assert.strictEqual(value(one!, "parley_message_deliveries_total"), 3)
      assert.strictEqual(value(two!, "parley_message_deliveries_total"), 0)
      assert.isUndefined(globalRegistry.getSingleMetric("parley_errors_sent_total"))
    }))
})
