/**
 * The single writer. Every write to the database is queued here and run by
 * one fiber that commits whatever has accumulated since its last batch: the
 * other writes (logins, sessions, receipts) in one transaction through
 * `SqlClient`, then the messages in one transaction of the backend's
 * `MessageStore`.
 * So a storm of MSGs (or logins) costs one commit (and with
 * `synchronous=full` one fsync) per batch, not one per write. Callers learn
 * of their result only after the commit: an ACK is durable.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Cause, Deferred, Effect, Exit } from "effect"
import { MessageStore, type PendingMessage, type StoredRow } from "./MessageStore.ts"
import { Metrics } from "./Metrics.ts"
import { isStorageFault, StorageHealth } from "./StorageHealth.ts"

export type { PendingMessage, StoredRow }

interface PendingOp {
  readonly run: Effect.Effect<unknown>
  readonly deferred: Deferred.Deferred<unknown>
}

const MAX_MESSAGES_PER_BATCH = 2000

/**
 * Runs a caller's callback (a sender's `done`, an `afterEachBatch` hook) so
 * that a throw is logged and stays its own: the single writer must never die
 * of it, or every later write would wait for ever.
 */
const guarded = (thrown: Array<unknown>, f: () => void): void => {
  try {
    f()
  } catch (defect) {
    thrown.push(defect)
  }
}

const logThrown = (thrown: ReadonlyArray<unknown>) =>
  thrown.length === 0
    ? Effect.void
    : Effect.logError(`${thrown.length} group commit callback(s) threw`, Cause.die(thrown[0]))

export class GroupCommit extends Effect.Service<GroupCommit>()("@parley/server/GroupCommit", {
  scoped: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const store = yield* MessageStore
    const health = yield* StorageHealth
    const metrics = yield* Metrics
    const clock = yield* Effect.clock
    /** A failed batch: an outage is logged once (StorageHealth), anything else every time. */
    const logFailure = (cause: Cause.Cause<unknown>) =>
      isStorageFault(cause) ? health.fault(cause) : Effect.logError("group commit failed", cause)
    let ops: Array<PendingOp> = []
    /** True from the start of a batch with messages until its senders have been told. */
    let storing = false
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

    /** The other writes of a batch, in one transaction through `SqlClient`; each caller learns its result after the commit. */
    const runOps = (batchOps: ReadonlyArray<PendingOp>) =>
      sql.withTransaction(
        // each in a savepoint: on PostgreSQL a failed statement would otherwise abort the
        // transaction, and its COMMIT silently roll back the writes reported as done
        Effect.forEach(batchOps, (op) => Effect.exit(Effect.orDie(sql.withTransaction(op.run))))
      ).pipe(
        Effect.matchCauseEffect({
          onSuccess: (results) =>
            Effect.sync(() => batchOps.forEach((op, i) => Deferred.unsafeDone(op.deferred, results[i]!))),
          onFailure: (cause) =>
            Effect.zipRight(
              logFailure(cause),
              Effect.sync(() => {
                const failure = Exit.die(Cause.squash(cause))
                for (const op of batchOps) Deferred.unsafeDone(op.deferred, failure)
              })
            )
        })
      )

    /** Stores the batch's messages and tells each sender, in message_id order; the number of DM rows stored. */
    const storeMessages = (batch: ReadonlyArray<PendingMessage>): Effect.Effect<number> =>
      // the Clock's time (a TestClock in tests), which the edit window is judged by
      store.store(batch, new Date(clock.unsafeCurrentTimeMillis()).toISOString()).pipe(
        Effect.matchCauseEffect({
          onFailure: (cause) => {
            // a bad message fails only itself: the batch is stored again one message at a time
            if (batch.length > 1 && !isStorageFault(cause)) {
              return Effect.map(
                Effect.forEach(batch, (m) => storeMessages([m])),
                (counts) => counts.reduce((a, b) => a + b, 0)
              )
            }
            const failure = Exit.die(Cause.squash(cause))
            const thrown: Array<unknown> = []
            for (const m of batch) guarded(thrown, () => m.done(failure))
            return Effect.as(Effect.zipRight(logFailure(cause), logThrown(thrown)), 0)
          },
          onSuccess: (stored) =>
            health.ok.pipe(Effect.zipRight(Effect.suspend(() => {
              let direct = 0
              let fresh = 0
              const thrown: Array<unknown> = []
              for (let i = 0; i < batch.length; i++) {
                const row = stored[i]!
                if (!row.duplicate) {
                  fresh++
                  if (row.receiverId !== null) direct++
                }
                // inline rather than through `guarded`: no closure per message on the hot path
                try {
                  batch[i]!.done(Exit.succeed(row))
                } catch (defect) {
                  thrown.push(defect)
                }
              }
              metrics.messagesStored(fresh - direct, direct)
              return Effect.as(logThrown(thrown), direct)
            })))
        })
      )

    /**
     * Runs one batch: the other writes first (in their own transaction), then
     * the messages. Both are done before the next batch starts, so the two
     * connections never hold the write lock at once.
     */
    const runBatch = Effect.suspend(() => {
      storing = messages.length > 0
      const batchOps = ops
      ops = []
      const batch = messages.length > MAX_MESSAGES_PER_BATCH ? messages.splice(0, MAX_MESSAGES_PER_BATCH) : messages
      if (batch === messages) messages = []
      const stored = batch.length > 0 ? storeMessages(batch) : Effect.succeed(0)
      const run = batchOps.length > 0 ? Effect.zipRight(runOps(batchOps), stored) : stored
      // timed only when a registry takes the figures (the metrics endpoint is served)
      if (!metrics.batchesObserved()) return run
      const started = performance.now()
      return Effect.map(run, (direct) => {
        metrics.batchCommitted(batchOps.length + batch.length, (performance.now() - started) / 1000)
        return direct
      })
    })

    const afterBatch: Array<(directRows: number) => void> = []
    yield* Effect.forkScoped(
      Effect.forever(
        Effect.zipRight(
          awaitWork,
          Effect.flatMap(runBatch, (direct) =>
            Effect.suspend(() => {
              storing = false
              const thrown: Array<unknown> = []
              for (const f of afterBatch) guarded(thrown, () => f(direct))
              return logThrown(thrown)
            }))
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

    /**
     * Whether a batch of messages is being stored: its rows may already be
     * visible to other readers while its senders have not been told yet (a
     * cluster's gap repair must not deliver them first, see Cluster.ts).
     */
    const storingMessages = (): boolean => storing

    return { write, submit, afterEachBatch, storingMessages } as const
  })
}) {}
