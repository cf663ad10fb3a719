/**
 * Two servers in one process (an embedder, or these tests) share nothing:
 * each numbers its own connections from 1 (the `conn` of its log lines) and
 * writes only its own connections' outboxes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, HashMap, Layer, Logger, Option } from "effect"
import type * as Net from "node:net"
import { Outbox, OutboxFlusher } from "../src/Outbox.ts"
import { Listener } from "../src/Server.ts"
import { ServerLive } from "../src/ServerLive.ts"
import { testDb } from "./support/ServerProcess.ts"
import { Wire } from "./support/Wire.ts"

/** Starts a server whose log records the `conn` of each "connection opened" line into `opened`. */
const serverLogging = (opened: Array<unknown>) =>
  Effect.gen(function*() {
    const db = yield* testDb
    const recorder = Logger.make(({ annotations, message }) => {
      const text = Array.isArray(message) ? message.join(" ") : String(message)
      if (text === "connection opened") opened.push(Option.getOrUndefined(HashMap.get(annotations, "conn")))
    })
    const context = yield* Layer.build(
      ServerLive({
        host: "127.0.0.1",
        port: 0,
        msgRate: 0,
        loginFailures: 0,
        registerRate: 0,
        maxConnsPerIp: 0,
        authTimeoutSeconds: 0,
        db
      })
      // provided to this build only: the test's own fiber keeps its logger, so the two servers' differ
    ).pipe(Effect.provide(Logger.replace(Logger.defaultLogger, recorder)), Effect.orDie)
    return Context.get(context, Listener).address!.port
  })

/** Opens a connection and waits for its worker's first line (it logs "connection opened" first). */
const openOne = (port: number, label: string) =>
  Effect.gen(function*() {
    const wire = yield* Wire.connect(port, label)
    yield* wire.ask({ command: "PING", id: label }, "PONG")
  })

describe("two servers in one process", () => {
  it.scopedLive("number their connections independently, each from 1", () =>
    Effect.gen(function*() {
      const openedA: Array<unknown> = []
      const openedB: Array<unknown> = []
      const a = yield* serverLogging(openedA)
      const b = yield* serverLogging(openedB)
      yield* openOne(a, "a1")
      yield* openOne(a, "a2")
      yield* openOne(b, "b1")
      yield* openOne(a, "a3")
      yield* openOne(b, "b2")
      assert.deepStrictEqual(openedA, [1, 2, 3])
      assert.deepStrictEqual(openedB, [1, 2])
    }))

  it.effect("flush only their own outboxes after a group commit", () =>
    Effect.gen(function*() {
      // a socket that records what it is given (only `write` and `destroyed` are used)
      const socket = (written: Array<Uint8Array>) =>
        ({ destroyed: false, write: (chunk: Uint8Array) => written.push(chunk) > 0 }) as unknown as Net.Socket
      const writtenA: Array<Uint8Array> = []
      const writtenB: Array<Uint8Array> = []
      const clock = yield* Effect.clock
      const flusherA = new OutboxFlusher()
      const flusherB = new OutboxFlusher()
      const outboxA = new Outbox(socket(writtenA), flusherA, clock, 1 << 20, () => {})
      const outboxB = new Outbox(socket(writtenB), flusherB, clock, 1 << 20, () => {})
      outboxA.offer(new Uint8Array([65, 10]))
      outboxB.offer(new Uint8Array([66, 10]))
      flusherA.flushQueued()
      assert.deepStrictEqual(writtenA, [new Uint8Array([65, 10])])
      assert.deepStrictEqual(writtenB, [], "server A's flush wrote server B's connection")
      flusherB.flushQueued()
      assert.deepStrictEqual(writtenB, [new Uint8Array([66, 10])])
    }))
})
