/**
 * A cluster node's message feed: every committed message, this node's and
 * the other nodes', delivered to this node's connections in `message_id`
 * order, each once.
 *
 * Ids are assigned in commit order (one advisory lock around each batch, see
 * PgMessageStore), so once id N is seen committed, every message with a
 * smaller id that will ever exist is committed too. The feed remembers the
 * highest id up to which it has delivered everything (`delivered`); an
 * entry above `delivered + 1` waits for the ones before it. A gap that the
 * bus does not fill within `gapWaitMs` (a dropped notice, a bus outage) is
 * repaired from the database: the rows in (`delivered`, highest seen] are
 * read, and an id with no row is one a rolled-back batch drew, skipped for
 * good. A periodic look at the newest id (`tail`) finds what no notice
 * announced at all, such as the last message before a quiet spell.
 *
 * Plain synchronous state: it runs in the callbacks that receive commits and
 * notices; the only asynchronous part, the read, is the caller's `repair`.
 */

/** A committed message as the feed carries it. */
export interface FeedEntry<M> {
  readonly id: number
  readonly item: M
}

export interface FeedOptions<M> {
  /** Everything up to this id is delivered (or was before this node started). */
  readonly delivered: number
  /** Delivers one entry to this node's connections. */
  readonly deliver: (entry: FeedEntry<M>) => void
  /** Reads the committed entries in (after, upTo] (at most `limit`, ascending); the feed calls `repaired` with them. */
  readonly repair: (after: number, upTo: number) => void
  /** Schedules `onTimer` after `ms` (replacing any timer scheduled before). */
  readonly schedule: (ms: number, onTimer: () => void) => void
  /** The time in milliseconds (any origin), to date a gap from when it opened. */
  readonly now: () => number
  readonly gapWaitMs: number
}

export class Feed<M> {
  private deliveredThrough: number
  private readonly pending = new Map<number, FeedEntry<M>>()
  private highest: number
  private repairing = false
  private timerSet = false
  /** The gap that holds delivery: `delivered` when it was first seen, and since when. */
  private gapAt = -1
  private gapSince = 0

  constructor(private readonly options: FeedOptions<M>) {
    this.deliveredThrough = options.delivered
    this.highest = options.delivered
  }

  /** Everything up to this id has been delivered. */
  get delivered(): number {
    return this.deliveredThrough
  }

  /** Entries waiting for an earlier one. */
  get waiting(): number {
    return this.pending.size
  }

  /** Committed entries, from this node or a notice; any order, duplicates ignored. */
  offer(entries: Iterable<FeedEntry<M>>): void {
    for (const entry of entries) {
      if (entry.id <= this.deliveredThrough || this.pending.has(entry.id)) continue
      this.pending.set(entry.id, entry)
      if (entry.id > this.highest) this.highest = entry.id
    }
    this.drain()
  }

  /** The newest committed id, read from the database: anything up to it not yet seen is repaired. */
  tail(newest: number): void {
    if (newest <= this.highest) return
    this.highest = newest
    // its notice may be on the way: the gap timer gives it the usual time
    this.armTimer()
  }

  /**
   * A repair's read came back: `entries` are every committed message in
   * (after, upTo]; ids in that range without an entry never committed.
   */
  repaired(upTo: number, entries: ReadonlyArray<FeedEntry<M>>, complete: boolean): void {
    this.repairing = false
    for (const entry of entries) {
      if (entry.id > this.deliveredThrough && !this.pending.has(entry.id)) this.pending.set(entry.id, entry)
    }
    // delivered in order through upTo (or, for a read that hit its limit, through its last row)
    const through = complete ? upTo : entries.length > 0 ? entries[entries.length - 1]!.id : this.deliveredThrough
    const due = [...this.pending.keys()].filter((id) => id <= through).sort((a, b) => a - b)
    for (const id of due) {
      const entry = this.pending.get(id)!
      this.pending.delete(id)
      this.deliveredThrough = id
      this.options.deliver(entry)
    }
    if (through > this.deliveredThrough) this.deliveredThrough = through
    this.drain()
  }

  /** A repair's read failed (the database is out): try again later. */
  repairFailed(): void {
    this.repairing = false
    this.gapSince = this.options.now() // a full wait before the next read
    this.armTimer()
  }

  private drain(): void {
    let next = this.pending.get(this.deliveredThrough + 1)
    while (next !== undefined) {
      this.pending.delete(next.id)
      this.deliveredThrough = next.id
      this.options.deliver(next)
      next = this.pending.get(this.deliveredThrough + 1)
    }
    if (this.highest > this.deliveredThrough) this.armTimer()
  }

  /** Dates the gap that holds delivery from the moment it is first seen. */
  private noteGap(): void {
    if (this.gapAt === this.deliveredThrough) return
    this.gapAt = this.deliveredThrough
    this.gapSince = this.options.now()
  }

  /**
   * Reads the database once the gap that holds delivery has been open for
   * `gapWaitMs`. The feed may move past that gap meanwhile (with several
   * nodes sending, a gap opens for the moment each notice takes to arrive):
   * a newer gap is then waited for from when it opened, so no gap is read
   * early and none waits longer than `gapWaitMs`.
   */
  private armTimer(): void {
    this.noteGap() // even with a timer already set: it finds the gap's age when it fires
    if (this.timerSet || this.repairing) return
    this.timerSet = true
    const wait = Math.max(0, this.gapSince + this.options.gapWaitMs - this.options.now())
    this.options.schedule(wait, () => {
      this.timerSet = false
      if (this.highest <= this.deliveredThrough) return
      this.noteGap()
      if (this.options.now() - this.gapSince >= this.options.gapWaitMs) this.startRepair()
      else this.armTimer()
    })
  }

  private startRepair(): void {
    if (this.repairing) return
    this.repairing = true
    this.options.repair(this.deliveredThrough, this.highest)
  }
}
