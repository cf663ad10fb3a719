/**
 * What the page knows, with no DOM in it: the conversations (general, each room you are in, each
 * person you talk to by DM), their messages by id, what you sent that waits for its ACK, unread
 * counts and read receipts. The view reads it; `App.ts` changes it as events arrive.
 */
import type { RoomInfo, RoomMessage } from "@parley/client/browser"

export type Role = "owner" | "moderator" | "member"

/** A message as shown. */
export interface Line {
  readonly id: number
  readonly from: string
  text: string
  readonly timestamp: string
  editedAt: string | undefined
}

/** Something you sent that has no ACK yet (or was refused, with why). */
export interface Pending {
  readonly localId: number
  readonly text: string
  /** Set once ACKed; the line itself arrives as a MESSAGE with this id. */
  messageId: number | undefined
  error: string | undefined
}

/** A note in a conversation between messages: someone joined, was muted, ... */
export interface Note {
  readonly key: string
  /** Shown after the message with this id. */
  readonly after: number
  readonly text: string
}

export interface Conversation {
  /** `room:<name>` or `dm:<name>` (lower case). */
  readonly key: string
  readonly kind: "room" | "dm"
  /** The room's or the person's spelling. */
  name: string
  readonly lines: Map<number, Line>
  pending: Array<Pending>
  notes: Array<Note>
  unread: number
  /** HISTORY was asked once; `hasMore`: older pages remain. */
  historyLoaded: boolean
  hasMore: boolean
  loading: boolean
  /** DMs: the highest id of yours the other person has read. */
  readByThem: number
  /** Rooms: your role, the topic, and whether you are muted (until when, in words). */
  role: Role | null
  topic: string
  visibility: "public" | "private"
  muted: string | undefined
}

export const roomKey = (name: string) => `room:${name.toLowerCase()}`
export const dmKey = (name: string) => `dm:${name.toLowerCase()}`

/** How a conversation is named on screen: `#room` or `@person`. */
export const label = (conv: Conversation) => conv.kind === "room" ? `#${conv.name}` : `@${conv.name}`

export const newConversation = (kind: "room" | "dm", name: string): Conversation => ({
  key: kind === "room" ? roomKey(name) : dmKey(name),
  kind,
  name,
  lines: new Map(),
  pending: [],
  notes: [],
  unread: 0,
  historyLoaded: false,
  hasMore: false,
  loading: false,
  readByThem: 0,
  role: kind === "room" && name.toLowerCase() === "general" ? "member" : null,
  topic: "",
  visibility: "public",
  muted: undefined
})

/** Every conversation of the page, in sidebar order. */
export class Model {
  readonly conversations = new Map<string, Conversation>()
  me = ""
  online: ReadonlyArray<string> = []
  active = roomKey("general")
  private nextLocal = 1

  constructor() {
    this.conversations.set(roomKey("general"), newConversation("room", "general"))
  }

  get(key: string): Conversation | undefined {
    return this.conversations.get(key)
  }

  room(name: string): Conversation {
    const key = roomKey(name)
    let conv = this.conversations.get(key)
    if (conv === undefined) this.conversations.set(key, conv = newConversation("room", name))
    return conv
  }

  dm(name: string): Conversation {
    const key = dmKey(name)
    let conv = this.conversations.get(key)
    if (conv === undefined) this.conversations.set(key, conv = newConversation("dm", name))
    return conv
  }

  rooms(): Array<Conversation> {
    const rooms = [...this.conversations.values()].filter((c) => c.kind === "room")
    return rooms.sort((a, b) =>
      a.key === "room:general" ? -1 : b.key === "room:general" ? 1 : a.key.localeCompare(b.key)
    )
  }

  dms(): Array<Conversation> {
    return [...this.conversations.values()].filter((c) => c.kind === "dm").sort((a, b) => a.key.localeCompare(b.key))
  }

  /** The conversation a message belongs to. */
  conversationOf(message: RoomMessage): Conversation {
    if (message.room !== null && message.room !== undefined) return this.room(message.room)
    const other = message.from.toLowerCase() === this.me.toLowerCase() ? message.to ?? message.from : message.from
    return this.dm(other)
  }

  /** Adds (or replaces) a message; true when it is new. */
  addMessage(message: RoomMessage): { conv: Conversation; isNew: boolean } {
    const conv = this.conversationOf(message)
    const isNew = !conv.lines.has(message.message_id)
    conv.lines.set(message.message_id, {
      id: message.message_id,
      from: message.from,
      text: message.text,
      timestamp: message.timestamp,
      editedAt: message.edited_at ?? undefined
    })
    // what you sent and is now shown as itself is no longer pending
    conv.pending = conv.pending.filter((p) => p.messageId !== message.message_id)
    return { conv, isNew }
  }

  addPending(conv: Conversation, text: string): Pending {
    const pending: Pending = { localId: this.nextLocal++, text, messageId: undefined, error: undefined }
    conv.pending.push(pending)
    return pending
  }

  /** Rooms from CONNECTED (or a change of them): add the new, drop the ones you are no longer in. */
  setRooms(rooms: ReadonlyArray<RoomInfo>) {
    const keep = new Set(rooms.map((r) => roomKey(r.name)))
    for (const conv of this.rooms()) {
      if (!keep.has(conv.key) && conv.key !== "room:general") this.conversations.delete(conv.key)
    }
    for (const info of rooms) {
      const conv = this.room(info.name)
      conv.name = info.name
      conv.role = info.role
      conv.topic = info.topic
      conv.visibility = info.visibility
      if (conv.key !== this.active) conv.unread = info.unread
    }
  }

  /** How many of your messages wait for their ACK (not those refused). */
  waiting(): number {
    let n = 0
    for (const conv of this.conversations.values()) {
      for (const p of conv.pending) {
        if (p.error === undefined && !(p.messageId !== undefined && conv.lines.has(p.messageId))) n++
      }
    }
    return n
  }

  /** Messages sorted by id, newest last. */
  static sorted(conv: Conversation): Array<Line> {
    return [...conv.lines.values()].sort((a, b) => a.id - b.id)
  }

  /** Your last message in a conversation, to edit with Up. */
  lastOwn(conv: Conversation): Line | undefined {
    const mine = Model.sorted(conv).filter((l) => l.from.toLowerCase() === this.me.toLowerCase())
    return mine[mine.length - 1]
  }
}

/** A moderator or owner may act on a member; an owner on moderators too. */
export const mayModerate = (mine: Role | null, theirs: Role | null): boolean =>
  mine === "owner" ? theirs !== "owner" : mine === "moderator" ? theirs === "member" || theirs === null : false
