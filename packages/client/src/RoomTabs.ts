/**
 * The rooms the terminal program shows: which one is current (where typed
 * text goes), the others with their unread counts, and the order Ctrl-N /
 * Ctrl-P cycle through. Pure, so switching and counting are tested alone.
 */
import { GENERAL_ROOM } from "@parley/protocol"

/** One of your rooms and the messages that arrived while it was not shown. */
export interface RoomTab {
  readonly name: string
  unread: number
}

const same = (a: string, b: string) => a.toLowerCase() === b.toLowerCase()

/** Your rooms, `general` first, the rest by name, and the current one. */
export class RoomTabs {
  private tabs: Array<RoomTab> = [{ name: GENERAL_ROOM, unread: 0 }]
  private currentName = GENERAL_ROOM
  private isListed = false

  /** Whether the server listed your rooms (it speaks rooms); until then there is nothing to show. */
  get listed(): boolean {
    return this.isListed
  }

  /** Where typed text goes. */
  get current(): string {
    return this.currentName
  }

  /** Your rooms' names in cycling order. */
  names(): ReadonlyArray<string> {
    return this.tabs.map((t) => t.name)
  }

  /** The room named `name` (any case) as the server spells it, if it is one of yours. */
  find(name: string): string | undefined {
    return this.tabs.find((t) => same(t.name, name))?.name
  }

  /** Your rooms as the server listed them (CONNECTED), keeping the current one if still yours. */
  reset(rooms: ReadonlyArray<{ readonly name: string; readonly unread: number }>): void {
    const named = rooms.map((r) => ({ name: r.name, unread: same(r.name, this.currentName) ? 0 : r.unread }))
    if (!named.some((t) => same(t.name, GENERAL_ROOM))) named.unshift({ name: GENERAL_ROOM, unread: 0 })
    this.tabs = named
    this.isListed = true
    this.sort()
    this.currentName = this.find(this.currentName) ?? GENERAL_ROOM
  }

  /** A room you joined or created. */
  add(name: string): void {
    if (this.find(name) === undefined) this.tabs.push({ name, unread: 0 })
    this.sort()
  }

  /** A room you left (or were removed from); the current one falls back to `general`. */
  remove(name: string): void {
    if (same(name, GENERAL_ROOM)) return
    this.tabs = this.tabs.filter((t) => !same(t.name, name))
    if (same(this.currentName, name)) this.switchTo(GENERAL_ROOM)
  }

  /** Makes `name` current and clears its count; false when it is not one of yours. */
  switchTo(name: string): boolean {
    const tab = this.tabs.find((t) => same(t.name, name))
    if (tab === undefined) return false
    this.currentName = tab.name
    tab.unread = 0
    return true
  }

  /** The next (1) or previous (-1) room becomes current; returns its name. */
  cycle(step: 1 | -1): string {
    const at = this.tabs.findIndex((t) => same(t.name, this.currentName))
    const next = this.tabs[(at + step + this.tabs.length) % this.tabs.length]!
    this.switchTo(next.name)
    return next.name
  }

  /** A message arrived in `room`: counted unless it is current (or not one of yours). */
  arrived(room: string): void {
    if (same(room, this.currentName)) return
    const tab = this.tabs.find((t) => same(t.name, room))
    if (tab !== undefined) tab.unread++
  }

  /** Whether `room` is the current one. */
  isCurrent(room: string): boolean {
    return same(room, this.currentName)
  }

  /** For the status line: `#ops · general 3 · dev 1` (rooms with nothing unread are left out). */
  summary(): string {
    const others = this.tabs.filter((t) => !same(t.name, this.currentName) && t.unread > 0)
    return [`#${this.currentName}`, ...others.map((t) => `${t.name} ${t.unread}`)].join(" · ")
  }

  private sort(): void {
    this.tabs.sort((a, b) =>
      same(a.name, GENERAL_ROOM) ? -1 : same(b.name, GENERAL_ROOM) ? 1 : a.name.localeCompare(b.name)
    )
  }
}
