/**
 * The rooms scenario's plan and its bookkeeping, apart from any socket: who
 * is in which room (each user in the same number of distinct rooms, the rooms
 * filled evenly, the same plan for the same seed), who creates each room, and
 * the check that each receiving connection got exactly the deliveries owed
 * to it (each message to a room reaches every member's connection but the
 * sender's), so that deliveries are counted from what arrived and a delivery
 * to the wrong connection shows.
 */

export interface RoomsPlan {
  readonly users: number
  /** Room names, by room index. */
  readonly names: ReadonlyArray<string>
  /** The user indices of each room's members, by room index. */
  readonly members: ReadonlyArray<ReadonlyArray<number>>
  /** The room indices of each user's rooms, by user index. */
  readonly roomsOf: ReadonlyArray<ReadonlyArray<number>>
  /** The user who creates each room (its first member), by room index. */
  readonly creators: ReadonlyArray<number>
}

/** A small, fast, seeded PRNG (mulberry32): the same plan for the same seed. */
export const seededRandom = (seed: number): () => number => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const shuffled = (n: number, random: () => number): Array<number> => {
  const a = Array.from({ length: n }, (_, i) => i)
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const t = a[i]!
    a[i] = a[j]!
    a[j] = t
  }
  return a
}

/**
 * Puts each of `users` users in `perUser` distinct rooms of `rooms` (fewer
 * when there are fewer rooms). Rooms are dealt from shuffled decks of all the
 * rooms, so room sizes differ by little: about users × perUser / rooms each.
 * A user dealt a room it already has puts it back for the next user.
 */
export const planRooms = (
  options: {
    readonly users: number
    readonly rooms: number
    readonly perUser: number
    readonly seed: number
    readonly name: (room: number) => string
  }
): RoomsPlan => {
  const { rooms, users } = options
  if (!(Number.isInteger(users) && users >= 2)) throw new Error(`users: ${users} is not a whole number ≥ 2`)
  if (!(Number.isInteger(rooms) && rooms >= 1)) throw new Error(`rooms: ${rooms} is not a whole number ≥ 1`)
  if (!(Number.isInteger(options.perUser) && options.perUser >= 1)) {
    throw new Error(`rooms per user: ${options.perUser} is not a whole number ≥ 1`)
  }
  const perUser = Math.min(options.perUser, rooms)
  const random = seededRandom(options.seed)
  const roomsOf: Array<Array<number>> = []
  const members: Array<Array<number>> = Array.from({ length: rooms }, () => [])
  let deck: Array<number> = []
  for (let u = 0; u < users; u++) {
    const mine = new Set<number>()
    const putBack: Array<number> = []
    // a fresh deck holds every room once, so at most one refill past the current deck completes the user
    while (mine.size < perUser) {
      if (deck.length === 0) deck = shuffled(rooms, random)
      const r = deck.pop()!
      if (mine.has(r)) putBack.push(r)
      else mine.add(r)
    }
    deck.push(...putBack)
    const list = [...mine].sort((a, b) => a - b)
    roomsOf.push(list)
    for (const r of list) members[r]!.push(u)
  }
  // a room nobody was dealt (only with users × perUser < rooms) gets its creator as its one member
  const creators = members.map((m, r) => {
    if (m.length > 0) return m[0]!
    const u = r % users
    m.push(u)
    roomsOf[u]!.push(r)
    return u
  })
  return { users, names: Array.from({ length: rooms }, (_, r) => options.name(r)), members, roomsOf, creators }
}

/** Mean members per room. */
export const meanRoomSize = (plan: RoomsPlan): number =>
  plan.members.reduce((n, m) => n + m.length, 0) / Math.max(1, plan.members.length)

/**
 * The deliveries each user's connection is owed: every message sent to one
 * of its rooms, but those it sent itself (every message a user sends goes to
 * one of its own rooms). Users whose connection was not live get none.
 */
export const owedDeliveries = (
  plan: RoomsPlan,
  sentToRoom: ArrayLike<number>,
  sentByUser: ArrayLike<number>,
  live: (user: number) => boolean
): Array<number> =>
  plan.roomsOf.map((rooms, u) => {
    if (!live(u)) return 0
    let owed = 0
    for (const r of rooms) owed += sentToRoom[r]!
    return owed - sentByUser[u]!
  })

export interface Tally {
  /** Deliveries that arrived where they were owed. */
  readonly delivered: number
  /** Owed deliveries that never arrived. */
  readonly missing: number
  /** Deliveries beyond what a connection was owed: to a non-member, or twice. */
  readonly extra: number
  /** Connections that got something other than what they were owed. */
  readonly wrongConnections: number
}

/** Compares, connection by connection, what arrived with what was owed. */
export const tallyDeliveries = (owed: ArrayLike<number>, got: ArrayLike<number>): Tally => {
  let delivered = 0
  let missing = 0
  let extra = 0
  let wrongConnections = 0
  const n = Math.max(owed.length, got.length)
  for (let i = 0; i < n; i++) {
    const o = owed[i] ?? 0
    const g = got[i] ?? 0
    delivered += Math.min(o, g)
    if (g < o) missing += o - g
    if (g > o) extra += g - o
    if (g !== o) wrongConnections++
  }
  return { delivered, missing, extra, wrongConnections }
}
