/**
 * The single writer. Every write to the database is queued here and run by
 * one fiber that commits whatever has accumulated in one transaction, so a
 * storm of MSGs (or logins) costs one fsync per batch, not one per write.
 * Callers learn of their result only after the commit: an ACK is durable.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Cause, Deferred, Effect, Either, Exit } from "effect"

/** A message to store, and whom to tell when it is stored. */
export interface PendingMessage {
  readonly senderId: number
  readonly receiverId: number | null
  readonly text: string
  readonly clientMsgId: string | undefined
  /** Called after commit (or on failure), in message_id order. */
  readonly done: (result: Exit.Exit<StoredRow>) => void
}

/** A row of `messages` as committed. `duplicate` when the client_msg_id was seen before. */
export interface StoredRow {
  readonly id: number
  readonly senderId: number
  readonly receiverId: number | null
  readonly text: string
  readonly timestamp: string
  readonly duplicate: boolean
}

interface PendingOp {
  readonly run: Effect.Effect<unknown>
  readonly deferred: Deferred.Deferred<unknown>
}

const MAX_MESSAGES_PER_BATCH = 2000
// SQLite allows 32766 bound parameters; 6 per row
const INSERT_SIZES = [256, 64, 16, 4, 1]

export class GroupCommit extends Effect.Service<GroupCommit>()("@parley/server/GroupCommit", {
  scoped: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    let ops: Array<PendingOp> = []
    let messages: Array<PendingMessage> = []
    let wake: (() => void) | undefined

    const signal = () => {
      if (wake !== undefined) {
        const w = wake
        wake = undefined
        w()
      }
    }

    // resume on the next turn of the event loop, so every frame already read joins this batch
    const awaitWork = Effect.async<void>((resume) => {
      const go = () => setImmediate(() => resume(Effect.void))
      if (ops.length > 0 || messages.length > 0) go()
      else wake = go
    })

    const insertMessages = (batch: ReadonlyArray<PendingMessage>, timestamp: string) =>
      Effect.gen(function*() {
        const results: Array<StoredRow | undefined> = new Array(batch.length)
        // idempotency: earlier sends with the same (sender, client_msg_id), in the db or in this batch
        const keyed = new Map<string, number>()
        const withKey = batch.filter((m) => m.clientMsgId !== undefined)
        if (withKey.length > 0) {
          // one JSON parameter keeps the statement text (and its prepared statement) the same for any batch
          const found = yield* sql<
            { id: number; sender_id: number; receiver_id: number | null; message: string; timestamp: string; client_msg_id: string }
          >`SELECT id, sender_id, receiver_id, message, timestamp, client_msg_id FROM messages
            WHERE client_msg_id IS NOT NULL AND (sender_id, client_msg_id) IN (
              SELECT value ->> 0, value ->> 1 FROM json_each(${JSON.stringify(withKey.map((m) => [m.senderId, m.clientMsgId!]))}))`
          const existing = new Map<string, StoredRow>()
          for (const row of found) {
            existing.set(`${row.sender_id}\u0000${row.client_msg_id}`, {
              id: row.id,
              senderId: row.sender_id,
              receiverId: row.receiver_id,
              text: row.message,
              timestamp: row.timestamp,
              duplicate: true
            })
          }
          batch.forEach((m, i) => {
            if (m.clientMsgId === undefined) return
            const key = `${m.senderId}\u0000${m.clientMsgId}`
            const stored = existing.get(key)
            if (stored !== undefined) results[i] = stored
            else if (keyed.has(key)) results[i] = undefined // resolved below, after its first twin is stored
            else keyed.set(key, i)
          })
        }
        const fresh: Array<number> = []
        batch.forEach((m, i) => {
          if (results[i] !== undefined) return
          if (m.clientMsgId !== undefined && keyed.get(`${m.senderId}\u0000${m.clientMsgId}`) !== i) return
          fresh.push(i)
        })
        // rows go in chunks of a few fixed sizes, so a handful of prepared statements serve every batch
        for (let start = 0; start < fresh.length;) {
          const left = fresh.length - start
          const size = INSERT_SIZES.find((n) => n <= left)!
          const slice = fresh.slice(start, start + size)
          start += size
          const rows = slice.map((i) => {
            const m = batch[i]!
            return {
              sender_id: m.senderId,
              receiver_id: m.receiverId,
              message: m.text,
              timestamp,
              is_read: 0,
              client_msg_id: m.clientMsgId ?? null
            }
          })
          const ids = yield* sql<{ id: number }>`INSERT INTO messages ${sql.insert(rows)} RETURNING id`
          // one writer: ids are assigned in insertion order
          const sorted = ids.map((r) => r.id).sort((a, b) => a - b)
          slice.forEach((i, k) => {
            const m = batch[i]!
            results[i] = {
              id: sorted[k]!,
              senderId: m.senderId,
              receiverId: m.receiverId,
              text: m.text,
              timestamp,
              duplicate: false
            }
          })
        }
        // later twins inside this batch repeat their first's result
        batch.forEach((m, i) => {
          if (results[i] !== undefined || m.clientMsgId === undefined) return
          const first = results[keyed.get(`${m.senderId}\u0000${m.clientMsgId}`)!]!
          results[i] = { ...first, duplicate: true }
        })
        return results as Array<StoredRow>
      })

    /** Runs one batch; the number of DM rows it stored. */
    const runBatch = Effect.gen(function*() {
      const batchOps = ops
      ops = []
      const batch = messages.length > MAX_MESSAGES_PER_BATCH ? messages.splice(0, MAX_MESSAGES_PER_BATCH) : messages
      if (batch === messages) messages = []
      const timestamp = new Date().toISOString()
      const outcome = yield* sql.withTransaction(
        Effect.gen(function*() {
          const opResults: Array<Exit.Exit<unknown>> = []
          for (const op of batchOps) opResults.push(yield* Effect.exit(op.run))
          const stored = batch.length > 0 ? yield* insertMessages(batch, timestamp) : []
          return { opResults, stored }
        })
      ).pipe(Effect.either)
      if (Either.isRight(outcome)) {
        const { opResults, stored } = outcome.right
        batchOps.forEach((op, i) => Deferred.unsafeDone(op.deferred, opResults[i]!))
        // fresh rows first in id order, each duplicate in its sender's order
        let direct = 0
        batch.forEach((m, i) => {
          const row = stored[i]!
          if (!row.duplicate && row.receiverId !== null) direct++
          m.done(Exit.succeed(row))
        })
        return direct
      } else {
        yield* Effect.logError("group commit failed", Cause.fail(outcome.left))
        const failure = Exit.die(outcome.left)
        for (const op of batchOps) Deferred.unsafeDone(op.deferred, failure)
        for (const m of batch) m.done(failure)
        return 0
      }
    })

    const afterBatch: Array<(directRows: number) => void> = []
    yield* Effect.forkScoped(
      Effect.forever(
        Effect.zipRight(
          awaitWork,
          Effect.flatMap(runBatch, (direct) => Effect.sync(() => afterBatch.forEach((f) => f(direct))))
        )
      )
    )

    /** Runs a write inside the next group transaction; resolves after its commit. */
    const write = <A>(run: Effect.Effect<A>): Effect.Effect<A> =>
      Effect.flatMap(Deferred.make<unknown>(), (deferred) => {
        ops.push({ run, deferred })
        signal()
        return Deferred.await(deferred) as Effect.Effect<A>
      })

    /** Queues a message; `done` runs after the commit. */
    const submit = (message: PendingMessage): void => {
      messages.push(message)
      signal()
    }

    /**
     * Runs `f` after every batch's results are delivered (e.g. to write the
     * ACKs at once), with the number of DMs the batch stored.
     */
    const afterEachBatch = (f: (directRows: number) => void): void => {
      afterBatch.push(f)
    }

    return { write, submit, afterEachBatch } as const
  })
}) {}
