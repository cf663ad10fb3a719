/**
 * The composer under the open conversation: what you type and what becomes of it. A message you
 * send waits in the list as pending until its ACK (across reconnects, through the client's outbox);
 * Enter sends, Shift+Enter adds a line, Up edits your last message in a room, Escape cancels the
 * edit. It owns its elements and the one state it keeps (the line being edited), so the chat
 * screen (`App.ts`) only tells it when to redraw and hears back when the message list changed.
 */
import type { ChatClient } from "@parley/client/browser"
import type { Effect } from "effect"
import { byId } from "./Dom.ts"
import { label, type Line, type Model } from "./Model.ts"

/** What the composer needs from the screen. */
export interface ComposerContext {
  readonly model: Model
  /** Whether a session is attached: nothing is sent before there is one. */
  readonly attached: () => boolean
  readonly client: () => ChatClient.Service
  readonly run: <A, E>(effect: Effect.Effect<A, E>) => Promise<A>
  /** Redraws the open conversation's messages; `toBottom`: scrolled to the newest. */
  readonly renderMessages: (toBottom?: boolean) => void
}

export class Composer {
  private editing: Line | undefined
  private readonly form = byId<HTMLFormElement>("composer")
  private readonly input = byId<HTMLTextAreaElement>("composer-input")
  private readonly label = byId("composer-label")
  private readonly error = byId("composer-error")

  constructor(private readonly ctx: ComposerContext) {
    const { form, input } = this
    form.addEventListener("submit", (e) => {
      e.preventDefault()
      this.submit()
    })
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault()
        this.submit()
      } else if (e.key === "ArrowUp" && input.value === "" && this.editing === undefined) {
        const { model } = this.ctx
        const conv = model.get(model.active)
        const last = conv !== undefined && conv.kind === "room" ? model.lastOwn(conv) : undefined
        if (last !== undefined) {
          e.preventDefault()
          this.startEdit(last)
        }
      } else if (e.key === "Escape" && this.editing !== undefined) {
        e.preventDefault()
        this.stopEdit()
      }
    })
    input.addEventListener("input", () => (this.error.textContent = ""))
  }

  focus() {
    this.input.focus()
  }

  /** Puts `line` in the box to be edited. */
  startEdit(line: Line) {
    this.editing = line
    this.input.value = line.text
    this.render()
    this.input.focus()
    this.input.setSelectionRange(line.text.length, line.text.length)
  }

  /** Forgets an edit in progress, leaving the box's text as it is (another conversation opens). */
  dropEdit() {
    this.editing = undefined
  }

  render() {
    const { model } = this.ctx
    const conv = model.get(model.active)
    if (conv === undefined) return
    this.label.textContent = this.editing !== undefined
      ? `Editing your message in ${label(conv)} (Enter saves, Escape cancels)`
      : conv.muted !== undefined
      ? `Message ${label(conv)} (you are muted here ${conv.muted})`
      : `Message ${label(conv)}`
    this.error.textContent = ""
    this.form.classList.toggle("editing", this.editing !== undefined)
  }

  private stopEdit() {
    this.editing = undefined
    this.input.value = ""
    this.render()
  }

  private submit() {
    const text = this.input.value
    if (this.editing !== undefined) {
      const line = this.editing
      this.stopEdit()
      if (text.trim() !== "" && text !== line.text) void this.saveEdit(line, text)
      return
    }
    if (text.trim() === "") return
    this.input.value = ""
    void this.send(text)
  }

  private async send(text: string) {
    const { ctx } = this
    const conv = ctx.model.get(ctx.model.active)
    if (conv === undefined || !ctx.attached()) return
    if (text.trim() === "") return
    const to = conv.kind === "dm" ? conv.name : conv.key === "room:general" ? null : { room: conv.name }
    let wait
    try {
      wait = await ctx.run(ctx.client().enqueue(text, to))
    } catch (error) {
      this.error.textContent = (error as Error).message
      this.input.value = text
      return
    }
    const pending = ctx.model.addPending(conv, text)
    ctx.renderMessages(true)
    try {
      const ack = await ctx.run(wait)
      pending.messageId = ack.message_id
      if (conv.lines.has(ack.message_id)) conv.pending = conv.pending.filter((p) => p !== pending)
    } catch (error) {
      pending.error = (error as Error).message
    }
    if (conv.key === ctx.model.active) ctx.renderMessages()
  }

  private async saveEdit(line: Line, text: string) {
    try {
      await this.ctx.run(this.ctx.client().edit(line.id, text))
      line.text = text
      line.editedAt = new Date().toISOString()
      this.ctx.renderMessages()
    } catch (error) {
      this.error.textContent = (error as Error).message
    }
  }
}
