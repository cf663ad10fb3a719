/**
 * The chat screen: the open conversation (history paged in as you scroll back, receipts, edit and
 * delete, moderation and the room's own controls where your role allows), the connection banner
 * with its countdown, sessions, Ctrl+K to switch conversation, and the events that change them.
 * Its two standing parts are modules of their own: the sidebar (`Sidebar.ts`: rooms, DMs, who is
 * online) and the composer (`Composer.ts`: sending, pending until ACK, editing, its keys).
 */
import type { ChatEvent, ConnectionState, RoomInfo, RoomMessage } from "@parley/client/browser"
import { bannerOf } from "./Banner.ts"
import { Composer } from "./Composer.ts"
import { byId, fill, h } from "./Dom.ts"
import { showMembers } from "./Members.ts"
import { messageItems } from "./MessageList.ts"
import { type Conversation, dmKey, label, type Line, Model, roomKey } from "./Model.ts"
import { renderRoomActions, type RoomControlsContext } from "./RoomControls.ts"
import type { Session } from "./Session.ts"
import { showSessions } from "./SessionsDialog.ts"
import { Sidebar } from "./Sidebar.ts"
import { type Destination, Switcher } from "./Switcher.ts"

const HISTORY_PAGE = 50

const until = (expiresAt: string | null | undefined) =>
  expiresAt === null || expiresAt === undefined ? "until lifted" : `until ${new Date(expiresAt).toLocaleString()}`

export interface AppHooks {
  /** The session ended for good (logged out, revoked, refused): back to the login screen, saying why. */
  readonly onEnded: (reason: string | undefined) => void
  /** Persist the DM partners, so a reload lists them again. */
  readonly saveDms: (names: ReadonlyArray<string>) => void
}

export class App {
  readonly model = new Model()
  private session: Session | undefined
  private state: ConnectionState | undefined
  private countdown: ReturnType<typeof setInterval> | undefined
  private membersOpen = false
  private readonly composer = new Composer({
    model: this.model,
    attached: () => this.session !== undefined,
    client: () => this.client(),
    run: (effect) => this.run(effect),
    renderMessages: (toBottom) => {
      if (toBottom === true) this.stickToBottom = true
      this.renderMessages()
    }
  })
  private readonly sidebar = new Sidebar(this.model, (key) => void this.open(key, true))
  private readonly switcher = new Switcher(() => this.destinations(), () => this.composer.focus())
  private ended = false
  private readonly els = {
    me: byId("me"),
    banner: byId("banner"),
    notice: byId("notice"),
    title: byId("conv-title"),
    topic: byId("conv-topic"),
    membersButton: byId<HTMLButtonElement>("members-button"),
    roomActions: byId("room-actions"),
    members: byId("members"),
    scroller: byId("scroller"),
    older: byId<HTMLButtonElement>("older-button"),
    messages: byId("messages")
  }

  constructor(private readonly hooks: AppHooks, knownDms: ReadonlyArray<string>) {
    for (const name of knownDms) this.model.dm(name)
    this.wire()
  }

  /** Attaches the logged-in session; its events flow in from now on. */
  attach(session: Session) {
    this.session = session
    this.model.me = session.user
    this.els.me.textContent = session.user
    this.renderAll()
    void this.open(this.model.active)
  }

  // --- events from the client (in arrival order) ---

  readonly onEvent = (event: ChatEvent) => {
    switch (event.type) {
      case "MESSAGE":
        return this.onMessage(event)
      case "RECEIPT": {
        const conv = this.model.dm(event.by)
        conv.readByThem = Math.max(conv.readByThem, event.message_id)
        if (conv.key === this.model.active) this.renderMessages()
        return
      }
      case "PRESENCE":
        return
      case "BYE":
        return
      case "EDITED": {
        const conv = this.model.room(event.room)
        const line = conv.lines.get(event.message_id)
        if (line !== undefined) {
          line.text = event.text
          line.editedAt = event.edited_at
        }
        if (conv.key === this.model.active) this.renderMessages()
        return
      }
      case "DELETED": {
        const conv = this.model.room(event.room)
        conv.lines.delete(event.message_id)
        if (conv.key === this.model.active) this.renderMessages()
        return
      }
      case "TOPIC": {
        const conv = this.model.room(event.room)
        conv.topic = event.topic
        this.note(conv, `${event.by} set the topic: ${event.topic === "" ? "(none)" : event.topic}`)
        if (conv.key === this.model.active) this.renderHeader()
        return
      }
      case "ROOM_DELETED":
        return this.leftRoom(this.model.room(event.room), `${event.by} deleted the room #${event.room}`)
      case "INVITED":
        this.notify(`${event.by} invited you to #${event.room}`, {
          label: `Join #${event.room}`,
          run: () => this.joinRoom(event.room)
        })
        return
      case "MEMBER":
        return this.onMember(event)
    }
  }

  private onMessage(message: RoomMessage) {
    const { conv, isNew } = this.model.addMessage(message)
    if (!isNew) {
      if (conv.key === this.model.active) this.renderMessages()
      return
    }
    const mine = message.from.toLowerCase() === this.model.me.toLowerCase()
    if (conv.kind === "dm") this.hooks.saveDms(this.model.dms().map((c) => c.name))
    if (!mine) {
      if (conv.key === this.model.active && document.visibilityState === "visible") this.markRead(conv, message)
      else conv.unread++
    }
    if (conv.key === this.model.active) this.renderMessages()
    this.sidebar.render()
  }

  private onMember(event: Extract<ChatEvent, { type: "MEMBER" }>) {
    const conv = this.model.room(event.room)
    const me = event.user.toLowerCase() === this.model.me.toLowerCase()
    const by = "by" in event ? event.by : undefined
    const reason = "reason" in event && event.reason ? ` (${event.reason})` : ""
    switch (event.event) {
      case "joined":
        this.note(conv, `${event.user} joined`)
        break
      case "left":
        // you left on another of your connections
        if (me) return this.leftRoom(conv, `You left #${event.room} on another device`)
        this.note(conv, `${event.user} left`)
        break
      case "kicked":
      case "banned":
        if (me) {
          return this.leftRoom(
            conv,
            `${by} ${event.event === "kicked" ? "removed you from" : "banned you from"} #${event.room}${reason}` +
              (event.event === "banned" ? `, ${until(event.expires_at)}` : "")
          )
        }
        this.note(conv, `${by} ${event.event} ${event.user}${reason}`)
        break
      case "muted":
        if (me) {
          conv.muted = until(event.expires_at)
          this.notify(`${by} muted you in #${event.room}${reason}, ${conv.muted}`)
        }
        this.note(conv, `${by} muted ${event.user}${reason}`)
        break
      case "unmuted":
        if (me) {
          conv.muted = undefined
          this.notify(`${by} unmuted you in #${event.room}`)
        }
        this.note(conv, `${by} unmuted ${event.user}`)
        break
      case "role":
        if (me) {
          conv.role = event.role
          this.notify(`${by} made you ${event.role} of #${event.room}`)
          if (conv.key === this.model.active) this.renderHeader()
        }
        this.note(conv, `${by} made ${event.user} ${event.role}`)
        break
      case "unbanned":
        this.note(conv, `${by} lifted the ban on ${event.user}`)
        break
    }
    if (me && conv.key === this.model.active) this.composer.render()
    if (conv.key === this.model.active && this.membersOpen) void this.loadMembers(conv)
  }

  /** You are out of `conv` (left, kicked, banned, or it was deleted): drop it, say why, go to general. */
  private leftRoom(conv: Conversation, why: string) {
    this.model.conversations.delete(conv.key)
    this.notify(why)
    if (this.model.active === conv.key) void this.open(roomKey("general"))
    else this.sidebar.render()
  }

  readonly onRooms = (rooms: ReadonlyArray<RoomInfo>) => {
    if (rooms.length === 0) return
    this.model.setRooms(rooms)
    if (this.model.get(this.model.active) === undefined) this.model.active = roomKey("general")
    this.sidebar.render()
    this.renderHeader()
  }

  /** You are a server admin: every room's controls, whatever your role in it. */
  private admin = false

  readonly onAdmin = (admin: boolean) => {
    if (admin === this.admin) return
    this.admin = admin
    this.renderHeader()
  }

  readonly onOnline = (names: ReadonlyArray<string>) => {
    this.model.online = names
    this.sidebar.renderOnline()
  }

  readonly onState = (state: ConnectionState) => {
    this.state = state
    this.renderBanner()
    if (state._tag === "Reconnecting" && this.countdown === undefined) {
      this.countdown = setInterval(() => this.renderBanner(), 250)
    } else if (state._tag !== "Reconnecting" && this.countdown !== undefined) {
      clearInterval(this.countdown)
      this.countdown = undefined
    }
    if (state._tag === "Disconnected" && this.session !== undefined && !this.ended) {
      this.ended = true
      this.hooks.onEnded(state.reason)
    }
  }

  /** Stops the countdown (the screen is going away). */
  dispose() {
    this.ended = true
    if (this.countdown !== undefined) clearInterval(this.countdown)
  }

  // --- actions ---

  private run<A, E>(effect: import("effect").Effect.Effect<A, E>): Promise<A> {
    if (this.session === undefined) return Promise.reject(new Error("not logged in"))
    return this.session.run(effect)
  }

  private client() {
    return this.session!.client
  }

  private markRead(conv: Conversation, message: RoomMessage | Line) {
    const id = "message_id" in message ? message.message_id : message.id
    const run = conv.kind === "room" ? this.client().markRead(id, conv.name) : this.client().markRead(id)
    // a read mark is best effort: a dropped link or a deleted message is no reason to bother anyone
    this.run(run).catch(() => undefined)
  }

  /** Opens a conversation: history on first visit, unread cleared, focus to the composer. */
  async open(key: string, focus = false) {
    const conv = this.model.get(key)
    if (conv === undefined) return
    const changed = this.model.active !== key
    this.model.active = key
    this.composer.dropEdit()
    if (changed) {
      this.membersOpen = false
      this.els.messages.replaceChildren()
      this.stickToBottom = true
    }
    this.sidebar.closeNav()
    this.renderAll()
    if (focus) this.composer.focus()
    if (!conv.historyLoaded && this.session !== undefined) await this.loadOlder(conv)
    this.readAll(conv)
  }

  /** Marks everything shown in `conv` as read. */
  private readAll(conv: Conversation) {
    const lines = Model.sorted(conv).filter((l) => l.from.toLowerCase() !== this.model.me.toLowerCase())
    const last = lines[lines.length - 1]
    if (conv.unread > 0 || (conv.kind === "dm" && last !== undefined)) {
      if (last !== undefined && this.session !== undefined) this.markRead(conv, last)
    }
    if (conv.unread !== 0) {
      conv.unread = 0
      this.sidebar.render()
    }
  }

  /** One more page of history, older than what is shown. */
  private async loadOlder(conv: Conversation) {
    if (conv.loading) return
    conv.loading = true
    this.renderOlder()
    const oldest = Model.sorted(conv)[0]
    const before = conv.historyLoaded && oldest !== undefined ? oldest.id : undefined
    const query = conv.kind === "room"
      ? { room: conv.name, before, limit: HISTORY_PAGE }
      : { with: conv.name, before, limit: HISTORY_PAGE }
    const fromBottom = this.els.scroller.scrollHeight - this.els.scroller.scrollTop
    try {
      const page = await this.run(this.client().history(query))
      for (const message of page.messages) this.model.addMessage(message)
      conv.hasMore = page.has_more
      conv.historyLoaded = true
    } catch (error) {
      this.notify(`Could not load the history of ${label(conv)}: ${(error as Error).message}`)
    } finally {
      conv.loading = false
    }
    if (conv.key !== this.model.active) return
    this.renderMessages()
    // keep what was on screen where it was
    if (before !== undefined) this.els.scroller.scrollTop = this.els.scroller.scrollHeight - fromBottom
    this.renderOlder()
  }

  private async act(what: string, effect: import("effect").Effect.Effect<unknown, unknown>, done?: string) {
    try {
      await this.run(effect)
      if (done !== undefined) this.notify(done)
    } catch (error) {
      this.notify(`${what}: ${(error as Error).message}`)
    }
  }

  private async joinRoom(name: string, create?: "public" | "private") {
    try {
      const info = await this.run(
        create === undefined ? this.client().join(name) : this.client().createRoom(name, create)
      )
      const conv = this.model.room(info.name)
      conv.role = info.role
      conv.topic = info.topic
      conv.visibility = info.visibility
      await this.open(conv.key, true)
      return true
    } catch (error) {
      this.notify(`${create === undefined ? "Join" : "Create"} #${name}: ${(error as Error).message}`)
      return false
    }
  }

  private loadMembers(conv: Conversation) {
    return showMembers({
      el: this.els.members,
      me: this.model.me,
      admin: this.admin,
      client: this.client(),
      run: (effect) => this.run(effect),
      act: (what, effect, done) => this.act(what, effect, done)
    }, conv)
  }

  private roomControls(): RoomControlsContext {
    return {
      admin: this.admin,
      client: this.client(),
      run: (effect) => this.run(effect),
      notify: (text) => this.notify(text),
      gone: (conv, text) => this.leftRoom(conv, text),
      topicSet: (conv, topic) => {
        conv.topic = topic
        this.note(conv, `You set the topic: ${topic === "" ? "(none)" : topic}`)
        if (conv.key === this.model.active) this.renderHeader()
      }
    }
  }

  showSessions() {
    return showSessions(this.client(), (effect) => this.run(effect))
  }

  /** REVOKE of this session (its token stops working), then goodbye. */
  async logOut() {
    const session = this.session
    if (session === undefined) return this.hooks.onEnded(undefined)
    this.ended = true
    try {
      await session.run(session.client.revoke(session.sessionId))
    } catch {
      // offline: the token is forgotten here all the same
    }
    await session.close()
    this.hooks.onEnded("You logged out.")
  }

  // --- notices ---

  private noteSeq = 0

  private note(conv: Conversation, text: string) {
    const last = Model.sorted(conv).at(-1)
    conv.notes.push({ key: `n${this.noteSeq++}`, after: last?.id ?? 0, text })
    if (conv.notes.length > 200) conv.notes.shift()
    if (conv.key === this.model.active) this.renderMessages()
  }

  notify(text: string, action?: { readonly label: string; readonly run: () => unknown }) {
    const notice = this.els.notice
    fill(
      notice,
      h("span", {}, text),
      action === undefined ? null : h("button", {
        type: "button",
        class: "small",
        onclick: () => {
          notice.hidden = true
          action.run()
        }
      }, action.label),
      h("button", { type: "button", class: "small secondary", onclick: () => (notice.hidden = true) }, "Dismiss")
    )
    notice.hidden = false
  }

  // --- rendering ---

  private stickToBottom = true

  private renderAll() {
    this.sidebar.render()
    this.sidebar.renderOnline()
    this.renderHeader()
    this.renderMessages()
    this.composer.render()
    this.renderBanner()
  }

  private renderHeader() {
    const conv = this.model.get(this.model.active)
    if (conv === undefined) return
    this.els.title.textContent = label(conv)
    this.els.topic.textContent = conv.kind === "room" ? conv.topic : "Direct messages"
    this.els.membersButton.hidden = conv.kind !== "room"
    this.els.membersButton.setAttribute("aria-expanded", String(this.membersOpen))
    this.els.members.hidden = !this.membersOpen
    // the controls act through the session, which comes after the first render
    if (this.session !== undefined) renderRoomActions(this.els.roomActions, this.roomControls(), conv)
    byId("log").setAttribute("aria-label", `Messages in ${label(conv)}`)
    document.title = `${label(conv)} · Parley`
  }

  private renderOlder() {
    const conv = this.model.get(this.model.active)
    this.els.older.hidden = conv === undefined || !conv.hasMore
    this.els.older.disabled = conv?.loading === true
    this.els.older.textContent = conv?.loading === true ? "Loading older messages…" : "Load older messages"
  }

  private renderMessages() {
    const conv = this.model.get(this.model.active)
    if (conv === undefined) return
    const scroller = this.els.scroller
    const atBottom = this.stickToBottom || scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40
    const items = messageItems(conv, this.model.me, {
      edit: (line) => this.composer.startEdit(line),
      remove: (line) =>
        void this.act("Delete", this.client().deleteMessage(line.id)).then(() => {
          conv.lines.delete(line.id)
          this.renderMessages()
        }),
      dismiss: (pending) => {
        conv.pending = conv.pending.filter((q) => q !== pending)
        this.renderMessages()
      }
    })
    // keep focus where it was when the list is rebuilt
    const focused = document.activeElement
    const focusedInList = focused !== null && this.els.messages.contains(focused)
    const focusedText = focusedInList ? focused.textContent : undefined
    const focusedId = focusedInList ? focused.closest("li")?.id : undefined
    this.els.messages.replaceChildren(...items)
    if (focusedId !== undefined && focusedId !== "") {
      const again = [...(document.getElementById(focusedId)?.querySelectorAll("button") ?? [])]
        .find((b) => b.textContent === focusedText)
      again?.focus()
    }
    if (atBottom) scroller.scrollTop = scroller.scrollHeight
    this.stickToBottom = false
    this.renderOlder()
  }

  private renderBanner() {
    const banner = bannerOf(this.state, this.model.waiting(), Date.now())
    this.els.banner.hidden = banner === undefined
    this.els.banner.className = banner?.down === true ? "banner down" : "banner"
    this.els.banner.textContent = banner?.text ?? ""
  }

  // --- the page's controls ---

  private wire() {
    const { membersButton, older, scroller } = this.els
    older.addEventListener("click", () => {
      const conv = this.model.get(this.model.active)
      if (conv !== undefined) void this.loadOlder(conv)
    })
    scroller.addEventListener("scroll", () => {
      const conv = this.model.get(this.model.active)
      if (conv !== undefined && scroller.scrollTop < 80 && conv.hasMore && !conv.loading) void this.loadOlder(conv)
    })
    membersButton.addEventListener("click", () => {
      this.membersOpen = !this.membersOpen
      this.renderHeader()
      const conv = this.model.get(this.model.active)
      if (this.membersOpen && conv !== undefined) void this.loadMembers(conv)
    })
    const roomName = byId<HTMLInputElement>("room-name")
    const visibility = byId<HTMLSelectElement>("room-visibility")
    byId("room-form").addEventListener("submit", async (e) => {
      e.preventDefault()
      const name = roomName.value.trim()
      if (name !== "" && await this.joinRoom(name)) roomName.value = ""
    })
    byId("create-button").addEventListener("click", async () => {
      const name = roomName.value.trim()
      if (name !== "" && await this.joinRoom(name, visibility.value === "private" ? "private" : "public")) {
        roomName.value = ""
      }
    })
    byId("sessions-button").addEventListener("click", () => void this.showSessions())
    byId("logout-button").addEventListener("click", () => void this.logOut())
    document.addEventListener("keydown", this.onGlobalKey)
    document.addEventListener("visibilitychange", () => {
      const conv = this.model.get(this.model.active)
      if (document.visibilityState === "visible" && conv !== undefined && this.session !== undefined) this.readAll(conv)
    })
  }

  private readonly onGlobalKey = (e: KeyboardEvent) => {
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "k") {
      e.preventDefault()
      this.switcher.open()
    }
  }

  /** Every conversation, and everyone online you have no DMs with yet. */
  private destinations(): Array<Destination> {
    const me = this.model.me.toLowerCase()
    const known = [...this.model.rooms(), ...this.model.dms()]
    const others = this.model.online.filter((n) => n.toLowerCase() !== me && this.model.get(dmKey(n)) === undefined)
    return [
      ...known.map((c) => ({ text: label(c), go: () => void this.open(c.key, true) })),
      ...others.map((n) => ({ text: `@${n}`, go: () => void this.open(this.model.dm(n).key, true) }))
    ]
  }
}
