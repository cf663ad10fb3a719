/**
 * The room's own controls in the conversation header, each shown only where your role allows it
 * (docs/protocol.md, "Roles and who may do what"): Set topic and Audit log for moderators and
 * owners, Leave for any member outside `general`, Delete room for owners (behind a confirmation).
 * The server decides in the end: what it refuses is said in the notice line (or, for the topic,
 * in its dialog), with the server's own words. A server admin (`CONNECTED`'s `admin`) gets an
 * owner's controls in every room.
 */
import type { ChatClient } from "@parley/client/browser"
import type { Effect } from "effect"
import { showAudit } from "./AuditDialog.ts"
import { byId, fill, h } from "./Dom.ts"
import type { Conversation } from "./Model.ts"

/** What the controls need from the screen. */
export interface RoomControlsContext {
  /** You are a server admin: an owner's controls everywhere. */
  readonly admin: boolean
  readonly client: ChatClient.Service
  readonly run: <A, E>(effect: Effect.Effect<A, E>) => Promise<A>
  /** A one-line message in the notice line. */
  readonly notify: (text: string) => void
  /** You are out of the room (you left or deleted it): drop it and say so. */
  readonly gone: (conv: Conversation, text: string) => void
  /** The topic you set was accepted (the server sends its TOPIC event to the others only). */
  readonly topicSet: (conv: Conversation, topic: string) => void
}

const isModerator = (conv: Conversation, admin: boolean) => admin || conv.role === "owner" || conv.role === "moderator"

/** Fills `el` with the controls `conv` allows you (none for a DM). */
export const renderRoomActions = (el: HTMLElement, ctx: RoomControlsContext, conv: Conversation | undefined) => {
  if (conv === undefined || conv.kind !== "room" || conv.role === null) return fill(el)
  const general = conv.key === "room:general"
  const button = (text: string, onclick: () => void, extra: Record<string, string> = {}) =>
    h("button", { type: "button", class: "secondary", onclick, ...extra }, text)
  fill(
    el,
    isModerator(conv, ctx.admin) ? button("Set topic", () => askTopic(ctx, conv), { "aria-haspopup": "dialog" }) : null,
    isModerator(conv, ctx.admin)
      ? button("Audit log", () => void showAudit(ctx, conv), { "aria-haspopup": "dialog" })
      : null,
    general ? null : button("Leave room", () => void leave(ctx, conv)),
    !general && (ctx.admin || conv.role === "owner")
      ? button("Delete room", () => void remove(ctx, conv), { "aria-haspopup": "dialog", class: "secondary danger" })
      : null
  )
}

/** PART; in a private room only after a confirmation, since coming back needs an invitation. */
const leave = async (ctx: RoomControlsContext, conv: Conversation) => {
  const room = conv.name
  if (
    conv.visibility === "private" &&
    !(await confirmAction(
      `Leave #${room}?`,
      `#${room} is private: to come back you will need a new invitation.`,
      `Leave #${room}`
    ))
  ) return
  try {
    await ctx.run(ctx.client.part(room))
    ctx.gone(conv, `You left #${room}`)
  } catch (error) {
    ctx.notify(`Leave #${room}: ${(error as Error).message}`)
  }
}

/** ROOM_DELETE, once confirmed. */
const remove = async (ctx: RoomControlsContext, conv: Conversation) => {
  const room = conv.name
  const sure = await confirmAction(
    `Delete #${room}?`,
    `Everyone is put out of #${room} and nobody can read its messages again. This cannot be undone.`,
    `Delete #${room}`
  )
  if (!sure) return
  try {
    await ctx.run(ctx.client.deleteRoom(room))
    ctx.gone(conv, `You deleted the room #${room}`)
  } catch (error) {
    ctx.notify(`Delete #${room}: ${(error as Error).message}`)
  }
}

/**
 * Asks a yes-or-no question in the confirmation dialog; true only for the confirming button
 * (Cancel and Escape say no). Cancel comes first, so it has the focus when the dialog opens.
 */
export const confirmAction = (title: string, text: string, confirm: string): Promise<boolean> => {
  const dialog = byId<HTMLDialogElement>("confirm-dialog")
  byId("confirm-title").textContent = title
  byId("confirm-text").textContent = text
  byId("confirm-ok").textContent = confirm
  dialog.returnValue = ""
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true })
    dialog.showModal()
  })
}

/** The topic dialog, filled with the current topic; Save sends TOPIC (empty clears it). */
const askTopic = (ctx: RoomControlsContext, conv: Conversation) => {
  const dialog = byId<HTMLDialogElement>("topic-dialog")
  const form = byId<HTMLFormElement>("topic-form")
  const input = byId<HTMLInputElement>("topic-input")
  const error = byId("topic-error")
  const save = byId<HTMLButtonElement>("topic-save")
  byId("topic-title").textContent = `Set the topic of #${conv.name}`
  byId("topic-label").textContent = `Topic of #${conv.name} (empty clears it)`
  input.value = conv.topic
  error.textContent = ""
  save.disabled = false
  // one handler per opening: the dialog is shared by every room
  form.onsubmit = async (e) => {
    e.preventDefault()
    const topic = input.value.trim()
    save.disabled = true
    try {
      await ctx.run(ctx.client.setTopic(conv.name, topic))
      ctx.topicSet(conv, topic)
      dialog.close()
    } catch (err) {
      error.textContent = (err as Error).message
    } finally {
      save.disabled = false
    }
  }
  byId("topic-cancel").onclick = () => dialog.close()
  dialog.showModal()
  input.select()
}
