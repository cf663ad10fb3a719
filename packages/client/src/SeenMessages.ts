/**
 * Which messages this client has already shown, and where to resume.
 *
 * Two different numbers are kept on purpose. `cursor` is the highest
 * `message_id` the server delivered to us as an event (or in HISTORY): each
 * connection delivers in `message_id` order, so everything at or below it has
 * arrived, and it is what CONNECT sends as `resume_after`. The `seen` set also
 * holds the ids of our own ACKed messages, which must not be shown twice when
 * a resume replays them, but must not move the cursor either: an ACK can
 * overtake another sender's earlier message still on its way to us.
 */
import type { Message } from "@parley/protocol"

/** Dedup set plus resume cursor. */
export class SeenMessages {
  private readonly seen = new Set<number>()
  private high: number | undefined

  constructor(private readonly capacity: number = 100_000) {}

  /** `resume_after` for the next CONNECT; undefined until anything was seen. */
  get cursor(): number | undefined {
    return this.high
  }

  /** Whether `messageId` was already shown. */
  has(messageId: number): boolean {
    return this.seen.has(messageId)
  }

  /** Records a message the server delivered; false when it was shown before. */
  deliver(message: Pick<Message, "message_id">): boolean {
    this.advance(message.message_id)
    return this.remember(message.message_id)
  }

  /** Records one of our own messages by its ACK; false when it was shown before. */
  acknowledge(messageId: number): boolean {
    return this.remember(messageId)
  }

  /** Moves the cursor forward (never back). */
  advance(messageId: number): void {
    if (this.high === undefined || messageId > this.high) this.high = messageId
  }

  private remember(messageId: number): boolean {
    if (this.seen.has(messageId)) return false
    this.seen.add(messageId)
    if (this.seen.size > this.capacity) {
      // ids arrive roughly in order: forget the oldest tenth (Set iterates in insertion order)
      let drop = Math.ceil(this.capacity / 10)
      for (const id of this.seen) {
        if (drop-- <= 0) break
        this.seen.delete(id)
      }
    }
    return true
  }
}
