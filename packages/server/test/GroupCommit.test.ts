/**
 * The single writer survives its callers: a sender's `done` or an
 * `afterEachBatch` hook that throws is logged, and every later write still
 * commits and is answered (it used to kill the writer's fiber, after which
 * every write waited for ever).
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Layer, Logger, LogLevel } from "effect"
import { GroupCommit, type StoredRow } from "../src/GroupCommit.ts"
import { Metrics } from "../src/Metrics.ts"
import { ServerConfig } from "../src/ServerConfig.ts"
import { SqliteStorage } from "../src/SqliteDatabase.ts"
import { tempDb } from "./support/ServerProcess.ts"

const Storage = Layer.unwrapScoped(
  Effect.map(
    tempDb,
    (db) => SqliteStorage.pipe(Layer.provide(Layer.merge(ServerConfig.layer({ db }), Metrics.Default)))
  )
)

describe("GroupCommit", () => {
  it.scopedLive("a callback that throws is its own problem: later messages and writes still commit", () =>
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      yield* sql`INSERT INTO users (id, username, password_hash, created_at) VALUES (1, 'u1', 'x', 'now')`
      const commit = yield* GroupCommit
      let hookCalls = 0
      commit.afterEachBatch(() => {
        hookCalls++
        throw new Error("a hook that throws")
      })
      const first = yield* Deferred.make<void>()
      commit.submit({
        senderId: 1,
        receiverId: null,
        roomId: null,
        text: "one",
        clientMsgId: undefined,
        done: () => {
          Deferred.unsafeDone(first, Exit.void)
          throw new Error("a sender's done that throws")
        }
      })
      yield* Deferred.await(first)
      const second = yield* Deferred.make<StoredRow>()
      commit.submit({
        senderId: 1,
        receiverId: null,
        roomId: null,
        text: "two",
        clientMsgId: undefined,
        done: (exit) => Deferred.unsafeDone(second, exit)
      })
      const row = yield* Deferred.await(second).pipe(Effect.timeout("5 seconds"))
      assert.strictEqual(row.text, "two")
      // other writes go through the same writer
      yield* commit.write(sql`UPDATE users SET last_login = 'later' WHERE id = 1`.pipe(Effect.orDie)).pipe(
        Effect.timeout("5 seconds")
      )
      const texts = yield* sql<{ message: string }>`SELECT message FROM messages ORDER BY id`
      assert.deepStrictEqual(texts.map((r) => r.message), ["one", "two"])
      assert.isAtLeast(hookCalls, 2)
    }).pipe(Effect.provide(Storage), Logger.withMinimumLogLevel(LogLevel.None)))
})
