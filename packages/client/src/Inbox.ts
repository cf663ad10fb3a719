/**
 * Everything that arrives, handled by one fiber in arrival order: each
 * message handed out once (`SeenMessages`), the gap of a TRUNCATED replay
 * filled from HISTORY, presence kept in the online list, and the resume
 * cursor set at the first login.
 */
import type { Bye, Message, Presence, Receipt, Truncated } from "@parley/protocol"
import { Effect, PubSub, Queue, type Scope, SubscriptionRef } from "effect"
import type * as Connection from "./Connection.ts"
import * as Reply from "./Reply.ts"
import { SeenMessages } from "./SeenMessages.ts"

/** What the events stream carries: the server's unrequested frames, each MESSAGE once. */
export type ChatEvent = Message | Presence | Receipt | Bye

/** Work for the inbox fiber. */
export type InboxJob =
  /** An event from link number `session` (CONNECT sent `resumeAfter` there). */
  | {
    readonly _tag: "Frame"
    readonly frame: Message | Presence | Receipt | Bye | Truncated
    readonly session: number
    readonly conn: Connection.Connection
    readonly resumeAfter: number | undefined
  }
  /** One of our own messages, just ACKed. */
  | { readonly _tag: "Own"; readonly message: Message }
  /** The first login did not resume: find out where "now" is (and show `backlog` messages). */
  | { readonly _tag: "Baseline"; readonly conn: Connection.Connection }

/** The inbox's handle. */
export interface Inbox {
  readonly offer: (job: InboxJob) => void
  /** `resume_after` for the next CONNECT. */
  readonly cursor: () => number | undefined
}

/** Starts the inbox fiber in the scope. */
export const make = (options: {
  readonly hub: PubSub.PubSub<ChatEvent>
  readonly online: SubscriptionRef.SubscriptionRef<ReadonlyArray<string>>
  /** Our registered name, once logged in. */
  readonly me: () => string | undefined
  /** Public messages from before the first login to hand out (0..100). */
  readonly backlog: number
}): Effect.Effect<Inbox, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { hub, me, online } = options
    const jobs = yield* Queue.unbounded<InboxJob>()
    const seen = new SeenMessages()
    // DM partners, to page their DMs after a TRUNCATED (the protocol pages DMs one partner at a time)
    const partners = new Map<string, string>()
    const abandoned = new Set<number>()

    const notePartner = (name: string | null) => {
      const self = me()
      if (name !== null && self !== undefined && name.toLowerCase() !== self.toLowerCase()) {
        partners.set(name.toLowerCase(), name)
      }
    }

    const publish = (message: Message) =>
      Effect.suspend(() => {
        if (!seen.deliver(message)) return Effect.void
        notePartner(message.from === me() ? message.to : message.from)
        return PubSub.publish(hub, message)
      })

    // every message of one timeline with after < id < before, oldest first
    const pageGap = (conn: Connection.Connection, withUser: string | undefined, after: number, before: number) =>
      Effect.gen(function*() {
        const out: Array<Message> = []
        let cursor = after
        while (true) {
          const page = yield* Reply.history(conn, { with: withUser, after: cursor, limit: 100 })
          for (const m of page.messages) if (m.message_id < before) out.push(m)
          const last = page.messages.at(-1)
          if (!page.has_more || last === undefined || last.message_id >= before - 1) return out
          cursor = last.message_id
        }
      })

    // the server replayed only the newest messages: fetch the older ones it skipped
    const fillGap = (conn: Connection.Connection, resumeAfter: number | undefined, before: number) =>
      Effect.gen(function*() {
        // without resume_after only unread DMs were due, and those cannot be paged as such
        if (resumeAfter === undefined) return
        const found = new Map<number, Message>()
        for (const m of yield* pageGap(conn, undefined, resumeAfter, before)) found.set(m.message_id, m)
        for (const partner of partners.values()) {
          const dms = yield* pageGap(conn, partner, resumeAfter, before).pipe(
            Effect.catchTag("RequestRejected", () => Effect.succeed([] as Array<Message>))
          )
          for (const m of dms) found.set(m.message_id, m)
        }
        for (const m of Array.from(found.values()).sort((a, b) => a.message_id - b.message_id)) yield* publish(m)
      })

    const baseline = (conn: Connection.Connection) =>
      Effect.gen(function*() {
        const page = yield* Reply.history(conn, { limit: Math.max(1, options.backlog) })
        if (options.backlog > 0) { for (const m of page.messages) yield* publish(m) }
        // the newest public message marks where "now" is; an empty timeline starts at 0
        seen.advance(page.messages.at(-1)?.message_id ?? 0)
      })

    const handle = (job: InboxJob): Effect.Effect<void> => {
      switch (job._tag) {
        case "Own":
          return seen.acknowledge(job.message.message_id) ? PubSub.publish(hub, job.message) : Effect.void
        case "Baseline":
          return Effect.ignore(baseline(job.conn))
        case "Frame": {
          if (abandoned.has(job.session)) return Effect.void
          const frame = job.frame
          switch (frame.type) {
            case "MESSAGE":
              return publish(frame)
            case "TRUNCATED":
              return fillGap(job.conn, job.resumeAfter, frame.before).pipe(
                // the link died while paging: skip the rest of its replay; the next resume sends it again
                Effect.catchAll(() => Effect.sync(() => abandoned.add(job.session)))
              )
            case "PRESENCE":
              return SubscriptionRef.update(online, (names) => {
                const rest = names.filter((n) => n.toLowerCase() !== frame.user.toLowerCase())
                return frame.status === "online" ? [...rest, frame.user].sort() : rest
              }).pipe(Effect.zipRight(PubSub.publish(hub, frame)))
            default:
              return PubSub.publish(hub, frame)
          }
        }
      }
    }

    yield* Queue.take(jobs).pipe(Effect.flatMap(handle), Effect.forever, Effect.forkScoped)

    return {
      offer: (job) => void Queue.unsafeOffer(jobs, job),
      cursor: () => seen.cursor
    }
  })
