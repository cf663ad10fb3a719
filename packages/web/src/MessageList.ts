/**
 * The items of the open conversation's message list, oldest first: each message (who, when,
 * edited, and in a DM "Read by" under the last of yours the other person read), the notes between
 * them (joins, mutes, ...), then what you sent that waits for its ACK (pending) or was refused
 * (with why, and Dismiss). Your own room messages have Edit and Delete; a moderator's, Delete.
 */
import { h } from "./Dom.ts"
import { type Conversation, type Line, Model, type Pending } from "./Model.ts"

export interface MessageActions {
  readonly edit: (line: Line) => void
  readonly remove: (line: Line) => void
  readonly dismiss: (pending: Pending) => void
}

const timeOf = (timestamp: string) => {
  const date = new Date(timestamp)
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
}

/** A button whose accessible name says which message it acts on ("Edit message 41"). */
const action = (text: string, id: number, onclick: () => void) =>
  h(
    "button",
    { type: "button", class: "small secondary", onclick },
    text,
    h("span", { class: "visually-hidden" }, ` message ${id}`)
  )

const messageItem = (
  conv: Conversation,
  line: Line,
  mine: boolean,
  readMark: number | undefined,
  actions: MessageActions
) => {
  const canModerate = conv.kind === "room" && (conv.role === "owner" || conv.role === "moderator")
  return h(
    "li",
    { class: mine ? "msg mine" : "msg", id: `m-${line.id}`, "data-id": String(line.id) },
    h(
      "div",
      { class: "meta" },
      h("span", { class: "from" }, line.from),
      " ",
      h("time", { datetime: line.timestamp }, timeOf(line.timestamp)),
      line.editedAt !== undefined ? h("span", { class: "edited" }, " (edited)") : null,
      readMark === line.id ? h("span", { class: "receipt" }, ` Read by ${conv.name}`) : null
    ),
    h("div", { class: "text" }, line.text),
    // DMs cannot be edited or deleted (protocol v1.2)
    conv.kind === "room" && (mine || canModerate)
      ? h(
        "div",
        { class: "actions" },
        mine ? action("Edit", line.id, () => actions.edit(line)) : null,
        action("Delete", line.id, () => actions.remove(line))
      )
      : null
  )
}

const pendingItem = (me: string, p: Pending, actions: MessageActions) =>
  h(
    "li",
    { class: p.error === undefined ? "msg mine pending" : "msg mine failed", "data-pending": String(p.localId) },
    h(
      "div",
      { class: "meta" },
      h("span", { class: "from" }, me),
      " ",
      h("span", { class: "state" }, p.error === undefined ? "pending: waits to be sent" : `not sent: ${p.error}`)
    ),
    h("div", { class: "text" }, p.text),
    p.error === undefined ? null : h(
      "div",
      { class: "actions" },
      h("button", { type: "button", class: "small secondary", onclick: () => actions.dismiss(p) }, "Dismiss")
    )
  )

/** Every item of `conv`'s list, for `me`. */
export const messageItems = (conv: Conversation, me: string, actions: MessageActions): Array<HTMLElement> => {
  const lines = Model.sorted(conv)
  const self = me.toLowerCase()
  const isMine = (line: Line) => line.from.toLowerCase() === self
  let readMark: number | undefined
  if (conv.kind === "dm") {
    for (const l of lines) if (isMine(l) && l.id <= conv.readByThem) readMark = l.id
  }
  const items: Array<HTMLElement> = []
  const note = (text: string) => items.push(h("li", { class: "note" }, text))
  let n = 0
  for (const line of lines) {
    for (; n < conv.notes.length && conv.notes[n]!.after < line.id; n++) note(conv.notes[n]!.text)
    items.push(messageItem(conv, line, isMine(line), readMark, actions))
  }
  for (; n < conv.notes.length; n++) note(conv.notes[n]!.text)
  for (const p of conv.pending) {
    if (p.messageId === undefined || !conv.lines.has(p.messageId)) items.push(pendingItem(me, p, actions))
  }
  return items
}
