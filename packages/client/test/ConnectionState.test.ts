import { assert, describe, it } from "@effect/vitest"
import { Chunk, Deferred, Effect, Either, FastCheck as fc, Fiber, Stream, SubscriptionRef } from "effect"
import { ConnectionEvent, ConnectionState, initial, move, type StateName, transition } from "../src/ConnectionState.ts"

// The seed's diagram 4, written out here independently of the implementation.
const drawn: ReadonlyArray<readonly [StateName, StateName]> = [
  ["Disconnected", "Connecting"], // connect()
  ["Connecting", "Authenticating"], // TCP handshake success
  ["Authenticating", "Connected"], // CONNECT command success
  ["Connected", "Reconnecting"], // Timeout/Error
  ["Reconnecting", "Connecting"], // retry
  ["Connected", "Disconnecting"], // disconnect() / DISCONNECT command
  ["Disconnecting", "Disconnected"] // cleanup complete
]
// Its "Timeout/Error" and "disconnect()" arrows, read as leaving every live state (see ConnectionState.ts).
const implied: ReadonlyArray<readonly [StateName, StateName]> = [
  ["Connecting", "Reconnecting"],
  ["Authenticating", "Reconnecting"],
  ["Connecting", "Disconnecting"],
  ["Authenticating", "Disconnecting"],
  ["Reconnecting", "Disconnecting"]
]
const edges = new Set([...drawn, ...implied].map(([a, b]) => `${a}->${b}`))
const states = new Set<StateName>([
  "Disconnected",
  "Connecting",
  "Authenticating",
  "Connected",
  "Reconnecting",
  "Disconnecting"
])

const anyEvent: fc.Arbitrary<ConnectionEvent> = fc.oneof(
  fc.constant(ConnectionEvent.ConnectRequested()),
  fc.constant(ConnectionEvent.Retry()),
  fc.constant(ConnectionEvent.TcpEstablished()),
  fc.record({
    user: fc.string(),
    sessionId: fc.nat(),
    at: fc.nat(),
    via: fc.constantFrom("password" as const, "token" as const)
  }).map(ConnectionEvent.Authenticated),
  fc.record({ error: fc.string(), retryAt: fc.nat() }).map(ConnectionEvent.LinkFailed),
  fc.option(fc.string(), { nil: undefined }).map((reason) => ConnectionEvent.DisconnectRequested({ reason })),
  fc.constant(ConnectionEvent.CleanupComplete())
)

describe("ConnectionState", () => {
  it.prop("any sequence of events stays in the diagram and takes only its edges", [
    fc.array(anyEvent, { maxLength: 200 })
  ], ([events]) => {
    let state = initial
    for (const event of events) {
      const next = transition(state, event)
      if (Either.isLeft(next)) {
        assert.strictEqual(next.left.from, state._tag)
        continue
      }
      assert.isTrue(states.has(next.right._tag), `unknown state ${next.right._tag}`)
      assert.isTrue(
        edges.has(`${state._tag}->${next.right._tag}`),
        `${state._tag} -> ${next.right._tag} is not an edge`
      )
      state = next.right
    }
  })

  it.prop("Connected is entered only from Authenticating, Disconnected only from Disconnecting", [
    fc.array(anyEvent, { maxLength: 200 })
  ], ([events]) => {
    let state = initial
    for (const event of events) {
      const next = transition(state, event)
      if (Either.isRight(next)) {
        if (next.right._tag === "Connected") assert.strictEqual(state._tag, "Authenticating")
        if (next.right._tag === "Disconnected") assert.strictEqual(state._tag, "Disconnecting")
        state = next.right
      }
    }
  })

  it("every edge of the diagram can be taken", () => {
    const path: ReadonlyArray<ConnectionEvent> = [
      ConnectionEvent.ConnectRequested(),
      ConnectionEvent.TcpEstablished(),
      ConnectionEvent.Authenticated({ user: "alice", sessionId: 1, at: 0, via: "password" }),
      ConnectionEvent.LinkFailed({ error: "reset", retryAt: 250 }),
      ConnectionEvent.Retry(),
      ConnectionEvent.TcpEstablished(),
      ConnectionEvent.Authenticated({ user: "alice", sessionId: 2, at: 1, via: "token" }),
      ConnectionEvent.DisconnectRequested({ reason: undefined }),
      ConnectionEvent.CleanupComplete()
    ]
    const taken = new Set<string>()
    let state = initial
    for (const event of path) {
      const next = Either.getOrThrow(transition(state, event))
      taken.add(`${state._tag}->${next._tag}`)
      state = next
    }
    for (const [a, b] of drawn) assert.isTrue(taken.has(`${a}->${b}`), `${a}->${b} not taken`)
    assert.strictEqual(state._tag, "Disconnected")
  })

  it("counts attempts across retries and keeps the stop reason", () => {
    let state = initial
    const step = (event: ConnectionEvent) => (state = Either.getOrThrow(transition(state, event)))
    step(ConnectionEvent.ConnectRequested())
    step(ConnectionEvent.LinkFailed({ error: "refused", retryAt: 1 }))
    step(ConnectionEvent.Retry())
    assert.deepStrictEqual(state, ConnectionState.Connecting({ attempt: 2 }))
    step(ConnectionEvent.TcpEstablished())
    step(ConnectionEvent.DisconnectRequested({ reason: "wrong password" }))
    step(ConnectionEvent.CleanupComplete())
    assert.deepStrictEqual(state, ConnectionState.Disconnected({ reason: "wrong password" }))
  })

  it.effect.prop(
    "a SubscriptionRef driven by move shows watchers only diagram edges",
    [fc.array(anyEvent, { maxLength: 60 })],
    ([events]) =>
      Effect.gen(function*() {
        let accepted = 0
        let state = initial
        for (const event of events) {
          const next = transition(state, event)
          if (Either.isRight(next)) {
            accepted++
            state = next.right
          }
        }
        const ref = yield* SubscriptionRef.make(initial)
        const started = yield* Deferred.make<void>()
        const watcher = yield* ref.changes.pipe(
          Stream.tap(() => Deferred.succeed(started, undefined)),
          Stream.take(1 + accepted),
          Stream.runCollect,
          Effect.fork
        )
        yield* Deferred.await(started)
        for (const event of events) {
          const before = yield* SubscriptionRef.get(ref)
          const result = yield* Effect.either(move(ref, event))
          // a rejected move leaves the state as it was
          if (Either.isLeft(result)) assert.deepStrictEqual(yield* SubscriptionRef.get(ref), before)
        }
        const seen = Chunk.toReadonlyArray(yield* Fiber.join(watcher))
        assert.strictEqual(seen.length, 1 + accepted)
        for (let i = 1; i < seen.length; i++) {
          const edge = `${seen[i - 1]!._tag}->${seen[i]!._tag}`
          assert.isTrue(edges.has(edge), `${edge} is not an edge`)
        }
        assert.deepStrictEqual(seen.at(-1), state)
      })
  )
})
