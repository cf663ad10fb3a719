/**
 * The index of DM conversations, kept a little behind the messages table.
 *
 * An index keyed by conversation puts a leaf page of every conversation
 * active in a batch into that batch's commit: with 50 conversations per
 * group commit that was 19 us of SQLite per DM against 3.6 without it. So
 * `direct_index (lo, hi, id)` is brought up to date by one statement that
 * joins a later group commit (`DELAY_MS` after DMs were stored), and it
 * records how far it got in `direct_index_state.upto`. A conversation's
 * history reads the index for ids up to `upto` and the messages table (by id
 * range, at most `DELAY_MS` worth of messages) above it, in one query: both
 * run in one SQLite read, so a message is found exactly once whichever side
 * of the mark it is on. Nothing is lost in a crash: the index is derived from
 * `messages`, and the first catch-up after a start indexes whatever is behind.
 */
import * as SqlClient from "@effect/sql/SqlClient"
import { Effect } from "effect"
import { GroupCommit } from "./GroupCommit.ts"

/** How long after DMs are stored the index catches up with them. */
const DELAY_MS = 100

export class DirectIndex extends Effect.Service<DirectIndex>()("@parley/server/DirectIndex", {
  scoped: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const commit = yield* GroupCommit

    /** Indexes every DM above the mark and moves the mark to the newest message. */
    const catchUp = Effect.zipRight(
      sql`
        INSERT INTO direct_index (lo, hi, id)
        SELECT min(sender_id, receiver_id), max(sender_id, receiver_id), id FROM messages
        WHERE id > (SELECT upto FROM direct_index_state) AND receiver_id IS NOT NULL`,
      sql`UPDATE direct_index_state SET upto = (SELECT coalesce(max(id), upto) FROM messages)`
    ).pipe(Effect.asVoid, Effect.orDie)

    // whatever an earlier run left behind (e.g. it was killed between a commit and its catch-up)
    yield* sql.withTransaction(catchUp).pipe(Effect.orDie)

    let pending = false
    let wake: (() => void) | undefined
    commit.afterEachBatch((directRows) => {
      if (directRows === 0 || pending) return
      pending = true
      if (wake !== undefined) {
        const w = wake
        wake = undefined
        w()
      }
    })
    const awaitDirect = Effect.async<void>((resume) => {
      if (pending) resume(Effect.void)
      else wake = () => resume(Effect.void)
    })
    yield* Effect.forkScoped(
      Effect.forever(
        awaitDirect.pipe(
          Effect.zipRight(Effect.sleep(DELAY_MS)),
          Effect.zipRight(Effect.sync(() => {
            // DMs stored from here on schedule the next catch-up
            pending = false
          })),
          Effect.zipRight(commit.write(catchUp))
        )
      )
    )

    return { catchUp: commit.write(catchUp) } as const
  })
}) {}
