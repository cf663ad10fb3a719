import { assert, describe, it } from "@effect/vitest"
import { spawnServer } from "@parley/testkit"
import { Effect } from "effect"
import { efficiency, type FanOutRun, type StepRecord } from "../src/FanOut.ts"
import { Generator } from "../src/Generator.ts"
import type { JobResults } from "../src/GeneratorPool.ts"
import type { Job } from "../src/Jobs.ts"
import { pooledShare, roomsShare } from "../src/Rooms.ts"
import { planRooms } from "../src/RoomsPlan.ts"

/** A real Parley and a generator in this process that runs jobs against it, its connections closed at the end. */
const generatorOnParley = Effect.gen(function*() {
  const server = yield* spawnServer()
  const endpoint = { host: server.host, port: server.port }
  const generator = new Generator()
  const run = <J extends Job>(job: J) => Effect.promise(() => generator.run(job) as Promise<JobResults[J["_tag"]]>)
  yield* Effect.addFinalizer(() => Effect.ignore(run({ _tag: "CloseAll" })))
  return { endpoint, run }
})

/** The rooms scenario's setup and one step of its traffic. */
const withRooms = (optIn: boolean) =>
  Effect.gen(function*() {
    const { endpoint, run } = yield* generatorOnParley
    const plan = planRooms({ users: 12, rooms: 4, perUser: 2, seed: 3, name: (r) => `bench_room${r}` })
    const accounts = Array.from({ length: 12 }, (_, i) => ({ username: `bench_u${i}`, password: "password-123" }))
    const setup = yield* run({ _tag: "Setup", endpoint, accounts, register: true, concurrency: 4 })
    const byName = new Map(setup.credentials.map((c) => [c.username, c]))
    const credentials = accounts.map((a) => byName.get(a.username)!)
    assert.strictEqual(setup.credentials.length, 12, JSON.stringify(setup.errors))
    // first with rooms, to make the rooms and memberships; then, if asked, again without opting in
    const open = (rooms: boolean) =>
      run({ _tag: "Open", endpoint, credentials, count: 12, role: "member", concurrency: 4, rooms })
    assert.strictEqual((yield* open(true)).opened, 12)
    yield* run({ _tag: "RoomsPlan", ...plan })
    const made = yield* run({ _tag: "JoinRooms", roomFrom: 0, roomTo: 4, userFrom: 0, userTo: 12, concurrency: 4 })
    assert.deepStrictEqual(made.errors, {})
    assert.strictEqual(made.created, 4)
    assert.strictEqual(made.joined, 12 * 2 - 4)
    if (!optIn) {
      yield* run({ _tag: "CloseAll" })
      assert.strictEqual((yield* open(false)).opened, 12)
    }
    yield* run({ _tag: "Prepare", endpoint, quietMs: 100, maxMs: 2_000 })
    return yield* run({
      _tag: "FanStep",
      step: 1,
      rate: 200,
      durationMs: 300,
      drainMs: optIn ? 5_000 : 500,
      textBytes: 100,
      mode: "rooms"
    })
  })

describe("rooms traffic", () => {
  it.scoped(
    "delivers each room message once to every other member's opted-in connection, counted on arrival",
    () =>
      Effect.gen(function*() {
        const step = yield* withRooms(true)
        assert.isAbove(step.sent, 20)
        assert.strictEqual(step.acked, step.sent)
        // 12 users × 2 rooms over 4 rooms: 6 members a room, so each message is owed to 5 connections
        assert.strictEqual(step.expected, step.sent * 5)
        assert.strictEqual(step.delivered, step.expected)
        assert.strictEqual(step.missing, 0)
        assert.strictEqual(step.extra, 0)
        assert.strictEqual(step.wrongConnections, 0)
      }),
    60_000
  )

  it.scoped(
    "counts owed deliveries as missing when the connections did not opt in to room traffic",
    () =>
      Effect.gen(function*() {
        const step = yield* withRooms(false)
        assert.isAbove(step.sent, 20)
        assert.strictEqual(step.acked, step.sent)
        assert.strictEqual(step.delivered, 0)
        assert.strictEqual(step.missing, step.expected)
        assert.strictEqual(step.wrongConnections, 12)
      }),
    60_000
  )
})

describe("single-room traffic from every connection", () => {
  it.scoped(
    "sends from each live connection in turn and owes each message to all the others",
    () =>
      Effect.gen(function*() {
        const { endpoint, run } = yield* generatorOnParley
        const accounts = Array.from({ length: 3 }, (_, i) => ({ username: `single_u${i}`, password: "password-123" }))
        const setup = yield* run({ _tag: "Setup", endpoint, accounts, register: true, concurrency: 3 })
        assert.strictEqual(setup.credentials.length, 3, JSON.stringify(setup.errors))
        // 6 receivers over 3 users (none of them a "sender"): two connections a user, as in fan-out
        const opened = yield* run({
          _tag: "Open",
          endpoint,
          credentials: setup.credentials,
          count: 6,
          role: "receiver",
          concurrency: 6
        })
        assert.strictEqual(opened.opened, 6)
        yield* run({ _tag: "Prepare", endpoint, quietMs: 100, maxMs: 2_000 })
        const step = yield* run({
          _tag: "FanStep",
          step: 1,
          rate: 120,
          durationMs: 300,
          drainMs: 5_000,
          textBytes: 100,
          mode: "anyone"
        })
        assert.isAbove(step.sent, 20)
        assert.strictEqual(step.acked, step.sent)
        // a public message reaches every other connection, the sender's own user's too
        assert.strictEqual(step.expected, step.sent * 5)
        assert.strictEqual(step.delivered, step.expected)
        assert.strictEqual(step.missing + step.extra + step.wrongConnections, 0)
      }),
    60_000
  )
})

describe("the rooms figure over several rounds", () => {
  const step = (pass: boolean, delivered: number, serverCpuSec: number) =>
    ({ pass, lost: 0, delivered, serverCpuSec }) as unknown as StepRecord
  const run = (steps: ReadonlyArray<StepRecord>): FanOutRun => ({
    server: "parley",
    knee: undefined,
    kneeStep: undefined,
    steps,
    deliveriesPerCpuSec: efficiency(steps)
  })

  it("pools every passing step of every round, each side summed, not the rounds' ratios averaged", () => {
    const rounds = [
      // a round whose rooms search landed low, and one whose single-room search did
      { rooms: run([step(true, 100, 1), step(false, 900, 1)]), single: run([step(true, 600, 1)]) },
      { rooms: run([step(true, 500, 1)]), single: run([step(true, 100, 1), step(true, 100, 1)]) }
    ]
    const pooled = pooledShare(rounds)
    assert.strictEqual(pooled.rooms, 300)
    assert.strictEqual(pooled.single, 800 / 3)
    assert.closeTo(pooled.share, (100 * 300) / (800 / 3), 1e-9)
    // the per-round shares would have read 16.7 % and 500 %
    assert.closeTo(roomsShare(rounds[0]!), 100 / 6, 1e-9)
  })
})
