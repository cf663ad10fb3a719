/**
 * Messages sent but not yet acknowledged. Each keeps its `client_msg_id`
 * until its ACK arrives, so after a reconnect the whole outbox is sent again
 * in its original order and the server's idempotency makes the repeats free.
 */
import type { Ack } from "@parley/protocol"
import { Deferred, Exit } from "effect"
import type { SendError } from "./ClientError.ts"

/** One message waiting for its ACK. */
export interface OutboxEntry {
  readonly clientMsgId: string
  readonly text: string
  readonly to: string | null
  /** The room it goes to (protocol v1.2); null: `general`, or the DM's `to`. */
  readonly room: string | null
  readonly done: Deferred.Deferred<Ack, SendError>
}

/** The pending messages, oldest first. Not safe to share between clients. */
export class Outbox {
  private readonly entries = new Map<string, OutboxEntry>()

  /** How many messages wait for their ACK. */
  get size(): number {
    return this.entries.size
  }

  /** Adds a message at the end. */
  add(entry: OutboxEntry): void {
    this.entries.set(entry.clientMsgId, entry)
  }

  /** The pending messages in the order they were added. */
  pending(): ReadonlyArray<OutboxEntry> {
    return Array.from(this.entries.values())
  }

  /** Settles a message with its ACK and returns it; undefined for an ACK seen before. */
  ack(clientMsgId: string, ack: Ack): OutboxEntry | undefined {
    const entry = this.entries.get(clientMsgId)
    if (entry === undefined) return undefined
    this.entries.delete(clientMsgId)
    Deferred.unsafeDone(entry.done, Exit.succeed(ack))
    return entry
  }

  /** Gives up on one message. */
  reject(clientMsgId: string, error: SendError): OutboxEntry | undefined {
    const entry = this.entries.get(clientMsgId)
    if (entry === undefined) return undefined
    this.entries.delete(clientMsgId)
    Deferred.unsafeDone(entry.done, Exit.fail(error))
    return entry
  }

  /** Gives up on every message (the client stopped). */
  rejectAll(error: SendError): void {
    for (const entry of this.entries.values()) Deferred.unsafeDone(entry.done, Exit.fail(error))
    this.entries.clear()
  }
}
