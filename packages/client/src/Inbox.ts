/**
 * Everything that arrives, handled by one fiber in arrival order: each
 * message handed out once (`SeenMessages`), the gap of a TRUNCATED replay
 * filled from HISTORY, presence kept in the online list, and the resume
 * cursor set at the first login.
 */
import { GENERAL_ROOM, type Presence, type Receipt, type RoomInfo, type Truncated } from "@parley/protocol"
import { Effect, PubSub, Queue, type Scope, SubscriptionRef } from "effect"
import type * as Connection from "./Connection.ts"
import type { Incoming, RoomEvent, RoomMessage as Message } from "./Frames.ts"
import * as Reply from "./Reply.ts"
import { SeenMessages } from "./SeenMessages.ts"

type Bye = Extract<Incoming, { readonly type: "BYE" }>

/** What the events stream carries: the server's unrequested frames, each MESSAGE once, and the room events. */
export type ChatEvent = Message | Presence | Receipt | Bye | RoomEvent

/** Work for the inbox fiber. */
export type InboxJob =
  /** An event from link number `session` (CONNECT sent `resumeAfter` there). */
  | {
    readonly _tag: "Frame"
    readonly frame: Message | Presence | Receipt | Bye | Truncated | RoomEvent
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

/** What the inbox fiber keeps between jobs. */
interface InboxState {
  readonly hub: PubSub.PubSub<ChatEvent>
  readonly online: SubscriptionRef.SubscriptionRef<ReadonlyArray<string>>
  readonly joinedRooms: SubscriptionRef.SubscriptionRef<ReadonlyArray<RoomInfo>>
  readonly me: () => string | undefined
  readonly backlog: number
  readonly seen: SeenMessages
  /** DM partners, to page their DMs after a TRUNCATED (the protocol pages DMs one partner at a time). */
  readonly partners: Map<string, string>
  /** Links whose replay was given up (they died while a gap was paged). */
  readonly abandoned: Set<number>
}

const notePartner = (st: InboxState, name: string | null) => {
  const self = st.me()
  if (name !== null && self !== undefined && name.toLowerCase() !== self.toLowerCase()) {
    st.partners.set(name.toLowerCase(), name)
  }
}

/** Hands a message out, unless it already was. */
const publish = (st: InboxState, message: Message) =>
  Effect.suspend(() => {
    if (!st.seen.deliver(message)) return Effect.void
    notePartner(st, message.from === st.me() ? message.to : message.from)
    return PubSub.publish(st.hub, message)
  })

/** Which timeline to page: `general` (neither), a user's DMs, or a room. */
type Timeline = { readonly with?: string; readonly room?: string }

/** Every message of one timeline with after < id < before, oldest first. */
const pageGap = (conn: Connection.Connection, timeline: Timeline, after: number, before: number) =>
  Effect.gen(function*() {
    const out: Array<Message> = []
    let cursor = after
    while (true) {
      const page = yield* Reply.history(conn, { ...timeline, after: cursor, limit: 100 })
      for (const m of page.messages) if (m.message_id < before) out.push(m)
      const last = page.messages.at(-1)
      if (!page.has_more || last === undefined || last.message_id >= before - 1) return out
      cursor = last.message_id
    }
  })

/** The server replayed only the newest messages: fetch the older ones it skipped. */
const fillGap = (st: InboxState, conn: Connection.Connection, resumeAfter: number | undefined, before: number) =>
  Effect.gen(function*() {
    // without resume_after only unread DMs were due, and those cannot be paged as such
    if (resumeAfter === undefined) return
    const found = new Map<number, Message>()
    for (const m of yield* pageGap(conn, {}, resumeAfter, before)) found.set(m.message_id, m)
    // the replay of a client that opted in to rooms also held its rooms' messages
    const rooms = (yield* SubscriptionRef.get(st.joinedRooms)).filter((r) => r.name.toLowerCase() !== GENERAL_ROOM)
    const timelines: Array<Timeline> = [
      ...Array.from(st.partners.values(), (partner) => ({ with: partner })),
      ...rooms.map((r) => ({ room: r.name }))
    ]
    for (const timeline of timelines) {
      // a partner renamed away, a room left or banned from since: nothing more to fetch there
      const more = yield* pageGap(conn, timeline, resumeAfter, before).pipe(
        Effect.catchTags({
          RequestRejected: () => Effect.succeed([] as Array<Message>),
          RoomRejected: () => Effect.succeed([] as Array<Message>)
        })
      )
      for (const m of more) found.set(m.message_id, m)
    }
    for (const m of Array.from(found.values()).sort((a, b) => a.message_id - b.message_id)) yield* publish(st, m)
  })

/** The first login did not resume: the newest public message marks where "now" is. */
const baseline = (st: InboxState, conn: Connection.Connection) =>
  Effect.gen(function*() {
    const page = yield* Reply.history(conn, { limit: Math.max(1, st.backlog) })
    if (st.backlog > 0) { for (const m of page.messages) yield* publish(st, m) }
    // an empty timeline starts at 0
    st.seen.advance(page.messages.at(-1)?.message_id ?? 0)
  })

const handleFrame = (st: InboxState, job: Extract<InboxJob, { _tag: "Frame" }>): Effect.Effect<void> => {
  if (st.abandoned.has(job.session)) return Effect.void
  const frame = job.frame
  switch (frame.type) {
    case "MESSAGE":
      return publish(st, frame)
    case "TRUNCATED":
      return fillGap(st, job.conn, job.resumeAfter, frame.before).pipe(
        // the link died while paging: skip the rest of its replay; the next resume sends it again
        Effect.catchAll(() => Effect.sync(() => st.abandoned.add(job.session)))
      )
    case "PRESENCE":
      return SubscriptionRef.update(st.online, (names) => {
        const rest = names.filter((n) => n.toLowerCase() !== frame.user.toLowerCase())
        return frame.status === "online" ? [...rest, frame.user].sort() : rest
      }).pipe(Effect.zipRight(PubSub.publish(st.hub, frame)))
    default:
      return PubSub.publish(st.hub, frame)
  }
}

const handle = (st: InboxState, job: InboxJob): Effect.Effect<void> => {
  switch (job._tag) {
    case "Own":
      return st.seen.acknowledge(job.message.message_id) ? PubSub.publish(st.hub, job.message) : Effect.void
    case "Baseline":
      return Effect.ignore(baseline(st, job.conn))
    case "Frame":
      return handleFrame(st, job)
  }
}

/** Starts the inbox fiber in the scope. */
export const make = (options: {
  readonly hub: PubSub.PubSub<ChatEvent>
  readonly online: SubscriptionRef.SubscriptionRef<ReadonlyArray<string>>
  /** Your rooms as of the last CONNECTED, to page theirs after a TRUNCATED. */
  readonly joinedRooms: SubscriptionRef.SubscriptionRef<ReadonlyArray<RoomInfo>>
  /** Our registered name, once logged in. */
  readonly me: () => string | undefined
  /** Public messages from before the first login to hand out (0..100). */
  readonly backlog: number
}): Effect.Effect<Inbox, never, Scope.Scope> =>
  Effect.gen(function*() {
    const st: InboxState = { ...options, seen: new SeenMessages(), partners: new Map(), abandoned: new Set() }
    const jobs = yield* Queue.unbounded<InboxJob>()
    yield* Queue.take(jobs).pipe(Effect.flatMap((job) => handle(st, job)), Effect.forever, Effect.forkScoped)
    return {
      offer: (job) => void Queue.unsafeOffer(jobs, job),
      cursor: () => st.seen.cursor
    }
  })
