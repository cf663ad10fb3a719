/**
 * The storage seam for the hot write: a group commit's messages stored in
 * one transaction. Implemented once per backend (`MessageWriter` on SQLite,
 * `PgMessageStore` on PostgreSQL) and chosen by the composition root; the
 * group commit sees only this tag.
 *
 * Both implement the same rules, planned here once: one row per message in
 * the batch's order; a `client_msg_id` already stored (or earlier in the same
 * batch) by the same sender is answered by its first row and stores nothing;
 * the batch is committed whole or not at all.
 */
import { Context, type Effect, type Exit } from "effect"

/** A message to store, and whom to tell when it is stored. */
export interface PendingMessage {
  readonly senderId: number
  readonly receiverId: number | null
  /** The room (not `general`, whose messages have none). */
  readonly roomId: number | null
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
  readonly roomId: number | null
  readonly text: string
  readonly timestamp: string
  readonly duplicate: boolean
}

/** A stored row found by its (sender, client_msg_id). */
export interface KeyedRow {
  readonly id: number
  readonly senderId: number
  readonly receiverId: number | null
  readonly roomId: number | null
  readonly text: string
  readonly timestamp: string
  readonly clientMsgId: string
}

export class MessageStore extends Context.Tag("@parley/server/MessageStore")<MessageStore, {
  /** Stores `batch` in one transaction; fails (nothing stored) if the transaction does. */
  readonly store: (batch: ReadonlyArray<PendingMessage>, timestamp: string) => Effect.Effect<Array<StoredRow>, unknown>
}>() {}

const keyOf = (senderId: number, clientMsgId: string) => `${senderId}\u0000${clientMsgId}`

/** The (sender, client_msg_id) pairs of a batch, to look up before inserting; undefined if none. */
export const keysOf = (batch: ReadonlyArray<PendingMessage>): Array<readonly [number, string]> | undefined => {
  let keys: Array<readonly [number, string]> | undefined
  for (const m of batch) if (m.clientMsgId !== undefined) (keys ??= []).push([m.senderId, m.clientMsgId])
  return keys
}

/**
 * What a batch needs written: `fresh` lists the messages that get a new row,
 * in batch order; `finish(ids)` takes their new ids (ascending, in that same
 * order) and returns every message's row.
 */
export interface BatchPlan {
  readonly fresh: ReadonlyArray<PendingMessage>
  readonly finish: (ids: ReadonlyArray<number>, timestamp: string) => Array<StoredRow>
}

/** Plans a batch given the rows already stored under its keys. */
export const planBatch = (batch: ReadonlyArray<PendingMessage>, existing: Iterable<KeyedRow>): BatchPlan => {
  const stored = new Map<string, StoredRow>()
  for (const row of existing) {
    stored.set(keyOf(row.senderId, row.clientMsgId), {
      id: row.id,
      senderId: row.senderId,
      receiverId: row.receiverId,
      roomId: row.roomId,
      text: row.text,
      timestamp: row.timestamp,
      duplicate: true
    })
  }
  // for each message: the stored row it repeats, the earlier message of the batch it repeats, or itself (fresh)
  const repeatsStored: Array<StoredRow | undefined> = new Array(batch.length)
  const repeatsEarlier: Array<number | undefined> = new Array(batch.length)
  const firstOfKey = new Map<string, number>()
  const fresh: Array<PendingMessage> = []
  const freshIndex: Array<number> = []
  for (let i = 0; i < batch.length; i++) {
    const m = batch[i]!
    if (m.clientMsgId !== undefined) {
      const key = keyOf(m.senderId, m.clientMsgId)
      const before = stored.get(key)
      if (before !== undefined) {
        repeatsStored[i] = before
        continue
      }
      const earlier = firstOfKey.get(key)
      if (earlier !== undefined) {
        repeatsEarlier[i] = earlier
        continue
      }
      firstOfKey.set(key, i)
    }
    fresh.push(m)
    freshIndex.push(i)
  }
  const finish = (ids: ReadonlyArray<number>, timestamp: string): Array<StoredRow> => {
    const rows: Array<StoredRow> = new Array(batch.length)
    for (let k = 0; k < freshIndex.length; k++) {
      const m = fresh[k]!
      rows[freshIndex[k]!] = {
        id: ids[k]!,
        senderId: m.senderId,
        receiverId: m.receiverId,
        roomId: m.roomId,
        text: m.text,
        timestamp,
        duplicate: false
      }
    }
    for (let i = 0; i < batch.length; i++) {
      const repeat = repeatsStored[i]
      if (repeat !== undefined) rows[i] = repeat
      else if (repeatsEarlier[i] !== undefined) rows[i] = { ...rows[repeatsEarlier[i]!]!, duplicate: true }
    }
    return rows
  }
  return { fresh, finish }
}
