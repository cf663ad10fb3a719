/**
 * How events look in a terminal: local timestamps, own messages and DMs set
 * apart even without colour, and colour only where it is wanted (a TTY and no
 * `NO_COLOR`). Text from the network is stripped of control characters so a
 * message cannot move the cursor or repaint the screen.
 */
import type { Message, Presence, Receipt } from "@parley/protocol"
import stringWidth from "string-width"

/** ANSI colours, or none. */
export interface Style {
  readonly enabled: boolean
  readonly dim: (s: string) => string
  readonly bold: (s: string) => string
  readonly red: (s: string) => string
  readonly green: (s: string) => string
  readonly yellow: (s: string) => string
  readonly magenta: (s: string) => string
  readonly cyan: (s: string) => string
  readonly inverse: (s: string) => string
  /** A stable colour per user name. */
  readonly user: (name: string) => string
}

const sgr = (open: number, close: number) => (s: string) => `\x1b[${open}m${s}\x1b[${close}m`
const plain = (s: string) => s

const palette = [sgr(36, 39), sgr(32, 39), sgr(33, 39), sgr(34, 39), sgr(35, 39), sgr(96, 39), sgr(92, 39), sgr(93, 39)]

/** Colour as the terminal and environment allow: https://no-color.org */
export const colorWanted = (stream: { readonly isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean =>
  stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === "") && env.TERM !== "dumb"

/** A style with colour on or off. */
export const makeStyle = (enabled: boolean): Style =>
  enabled
    ? {
      enabled,
      dim: sgr(2, 22),
      bold: sgr(1, 22),
      red: sgr(31, 39),
      green: sgr(32, 39),
      yellow: sgr(33, 39),
      magenta: sgr(35, 39),
      cyan: sgr(36, 39),
      inverse: sgr(7, 27),
      user: (name) => {
        let h = 0
        for (const c of name.toLowerCase()) h = (h * 31 + c.codePointAt(0)!) >>> 0
        return sgr(1, 22)(palette[h % palette.length]!(name))
      }
    }
    : {
      enabled,
      dim: plain,
      bold: plain,
      red: plain,
      green: plain,
      yellow: plain,
      magenta: plain,
      cyan: plain,
      inverse: plain,
      user: plain
    }

// C0 controls but tab and newline, DEL, and C1 controls (ESC and CSI among them)
// eslint-disable-next-line no-control-regex
const controls = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g

/** Text from the network, safe to print: control characters become visible `�`. */
export const sanitize = (text: string): string => text.replace(/\r\n?/g, "\n").replace(controls, "\ufffd")

const pad = (n: number) => String(n).padStart(2, "0")

const WEEKDAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
const MONTHS = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December"
]

const sameLocalDay = (a: Date, b: Date) =>
  a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate()

/** A server timestamp in local time: `HH:MM`, with the date when it is not today. */
export const localTime = (iso: string, now: Date = new Date()): string => {
  const d = new Date(iso)
  if (Number.isNaN(d.getTime())) return iso
  const hm = `${pad(d.getHours())}:${pad(d.getMinutes())}`
  return sameLocalDay(d, now) ? hm : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${hm}`
}

/**
 * The line put before a message whose local day differs from the one shown before it
 * (`— Tuesday 8 December —`, the year added when not this year, `today` marked), so times
 * shown as `HH:MM` are never read against the wrong day. With nothing shown before, only
 * a message from another day than today gets one.
 */
export const daySeparator = (
  style: Style,
  previous: string | undefined,
  next: string,
  now: Date
): string | undefined => {
  const d = new Date(next)
  if (Number.isNaN(d.getTime())) return undefined
  const before = previous === undefined ? now : new Date(previous)
  if (!Number.isNaN(before.getTime()) && sameLocalDay(before, d)) return undefined
  const year = d.getFullYear() === now.getFullYear() ? "" : ` ${d.getFullYear()}`
  const today = sameLocalDay(d, now) ? " (today)" : ""
  return style.dim(`— ${WEEKDAYS[d.getDay()]} ${d.getDate()} ${MONTHS[d.getMonth()]}${year}${today} —`)
}

const same = (a: string | null | undefined, b: string | undefined) =>
  a != null && b !== undefined && a.toLowerCase() === b.toLowerCase()

/** Whether a message is a DM addressed to `me`. */
export const isDmTo = (message: Message, me: string | undefined): boolean => same(message.to, me)

/** One message as terminal lines (continuation lines of a multi-line text are indented). */
export const formatMessage = (style: Style, message: Message, me: string | undefined, now?: Date): string => {
  const time = style.dim(localTime(message.timestamp, now))
  const mine = same(message.from, me)
  const from = mine ? style.green(style.bold("you")) : style.user(message.from)
  let head: string
  let width: number
  if (message.to === null) {
    head = `${time} ${from}: `
    width = localTime(message.timestamp, now).length + 1 + (mine ? 3 : message.from.length) + 2
  } else {
    const to = same(message.to, me) ? "you" : message.to
    const dm = mine ? `[DM] you → ${to}` : `[DM] ${message.from} → ${to}`
    head = `${time} ${style.magenta(style.bold(dm))}: `
    width = localTime(message.timestamp, now).length + 1 + dm.length + 2
  }
  const lines = sanitize(message.text).split("\n")
  const body = message.to !== null ? lines.map((l) => style.magenta(l)) : lines
  const indent = " ".repeat(Math.min(width, 24))
  return head + body.map((l, i) => (i === 0 ? l : indent + l)).join("\n")
}

/** A message of yours not yet acknowledged: one line, dimmed, and marked so even without colour. */
export const formatPending = (style: Style, text: string, to: string | null): string => {
  const oneLine = sanitize(text).replace(/\n/g, " ")
  return style.dim(`⋯ ${to === null ? "you" : `[DM] you → ${to}`}: ${oneLine} (not sent yet)`)
}

/** Someone came or went. */
export const formatPresence = (style: Style, presence: Presence): string =>
  style.dim(`* ${presence.user} ${presence.status === "online" ? "is online" : "went offline"}`)

/** Someone read your DM(s); `text` is the DM's text when this client sent it. */
export const formatReceipt = (style: Style, receipt: Receipt, text: string | undefined): string => {
  const what = text !== undefined
    ? `your message "${ellipsis(sanitize(text).replace(/\n/g, " "), 40)}"`
    : "your messages"
  return style.green(`✓ ${receipt.by} read ${what}`)
}

/** Terminal columns a string takes, ANSI colours excluded: wide CJK and emoji (ZWJ sequences included) count 2. */
export const displayWidth = (s: string): number => stringWidth(s)

const graphemes = new Intl.Segmenter(undefined, { granularity: "grapheme" })

/** Shortens to at most `max` columns with an ellipsis, never cutting a character (or an emoji sequence) in two. */
const ellipsis = (s: string, max: number): string => {
  if (displayWidth(s) <= max) return s
  let out = ""
  let width = 0
  for (const { segment } of graphemes.segment(s)) {
    const w = displayWidth(segment)
    if (width + w > max - 1) break
    out += segment
    width += w
  }
  return out + "…"
}

// eslint-disable-next-line no-control-regex
const ansi = /\x1b\[[0-9;]*m/g

/** Text with its colours (SGR sequences) dropped and every other escape kept. */
export const withoutColour = (text: string): string => text.replace(ansi, "")

/** A line cut to `columns` terminal columns (an ellipsis where it was cut; colours dropped only then). */
export const fitWidth = (text: string, columns: number): string =>
  displayWidth(text) <= columns ? text : ellipsis(text.replace(ansi, ""), columns)
