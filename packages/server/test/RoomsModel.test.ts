/**
 * A model-based property test of rooms (docs/protocol.md, protocol v1.2):
 * random sequences of room operations by several users (join, leave,
 * invite, kick, ban, unban, mute, unmute, role changes, sends) run against
 * the real server over TCP and against a small reference model of who may
 * do and see what. Every reply must be the one the model predicts, every
 * member (and nobody else) must receive each message live, and HISTORY (in
 * the sequence, and by everyone at the end) must be readable exactly by
 * those the model lets read it, showing every message sent.
 *
 * One server and one connection per user serve every run; each run has a
 * room of its own, so runs do not see each other's state. Sanctions here
 * last until lifted: their expiry under TestClock is tested in Rooms.test.ts.
 */
import { assert, describe, it, layer } from "@effect/vitest"
import { Context, Effect, FastCheck as fc, Layer } from "effect"
import { launchServer } from "./support/InProcessServer.ts"
import { type Frame, logIn, PASSWORD, register, type Wire } from "./support/Wire.ts"

const USERS = ["owner", "ann", "ben", "cid"] as const
type User = (typeof USERS)[number]
type Role = "owner" | "moderator" | "member"

/**
 * Each run's room is created by one of several owner accounts in turn, since
 * an account may create only 20 rooms an hour.
 */
const OWNERS = 11

interface Peers {
  readonly others: Record<Exclude<User, "owner">, Wire>
  readonly owners: ReadonlyArray<{ readonly name: string; readonly wire: Wire }>
}
const Peers = Context.GenericTag<Peers>("RoomsModel/Peers")

const PeersLive = Layer.scoped(
  Peers,
  Effect.gen(function*() {
    const { port } = yield* launchServer()
    const join = (name: string) =>
      Effect.zipRight(register(port, name), logIn(port, name, { password: PASSWORD, rooms: true }))
    const others: Partial<Record<User, Wire>> = {}
    for (const name of USERS) if (name !== "owner") others[name] = (yield* join(name)).wire
    const owners: Array<{ name: string; wire: Wire }> = []
    for (let i = 0; i < OWNERS; i++) owners.push({ name: `owner${i}`, wire: (yield* join(`owner${i}`)).wire })
    return { others: others as Peers["others"], owners }
  })
)

type Op =
  | { readonly kind: "JOIN" | "PART" | "SEND" | "HISTORY"; readonly user: User }
  | {
    readonly kind: "INVITE" | "KICK" | "BAN" | "UNBAN" | "MUTE" | "UNMUTE"
    readonly actor: User
    readonly user: User
  }
  | { readonly kind: "ROLE"; readonly actor: User; readonly user: User; readonly role: "moderator" | "member" }

const user = fc.constantFrom(...USERS)
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constantFrom("JOIN" as const, "PART" as const), user }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("SEND" as const), user }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("HISTORY" as const), user }) },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constantFrom(
        "INVITE" as const,
        "KICK" as const,
        "BAN" as const,
        "UNBAN" as const,
        "MUTE" as const,
        "UNMUTE" as const
      ),
      actor: user,
      user
    })
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("ROLE" as const),
      actor: user,
      user,
      role: fc.constantFrom("moderator" as const, "member" as const)
    })
  }
)

/** Who may do and see what in one room: the contract's rules, restated. */
class Model {
  readonly members = new Map<User, Role>([["owner", "owner"]])
  readonly invited = new Set<User>()
  readonly banned = new Set<User>()
  readonly muted = new Set<User>()
  constructor(readonly visibility: "public" | "private") {}

  private rank(u: User) {
    const role = this.members.get(u)
    return role === "owner" ? 2 : role === "moderator" ? 1 : 0
  }

  /** The error an outsider gets for a command that needs them to be a member. */
  private outsider(u: User, banCounts: boolean): string | undefined {
    if (this.members.has(u)) return undefined
    if (this.visibility === "private") return "NO_SUCH_ROOM"
    return banCounts && this.banned.has(u) ? "BANNED" : "NOT_MEMBER"
  }

  /** The expected reply (a frame type or an error code), with the model updated; who receives a sent message. */
  apply(o: Op): { readonly reply: string; readonly recipients?: ReadonlyArray<User> } {
    switch (o.kind) {
      case "JOIN": {
        if (this.members.has(o.user)) return { reply: "ROOM" }
        if (this.visibility === "private" && !this.invited.has(o.user)) return { reply: "NO_SUCH_ROOM" }
        if (this.banned.has(o.user)) return { reply: "BANNED" }
        this.members.set(o.user, "member")
        this.invited.delete(o.user)
        return { reply: "ROOM" }
      }
      case "PART": {
        const refusal = this.outsider(o.user, false)
        if (refusal !== undefined) return { reply: refusal }
        if (o.user === "owner") return { reply: this.members.size > 1 ? "FORBIDDEN" : "KEEP" }
        this.members.delete(o.user)
        return { reply: "OK" }
      }
      case "HISTORY":
        return { reply: this.history(o.user) }
      case "SEND": {
        const refusal = this.outsider(o.user, true)
        if (refusal !== undefined) return { reply: refusal }
        if (this.muted.has(o.user)) return { reply: "MUTED" }
        return { reply: "ACK", recipients: [...this.members.keys()].filter((u) => u !== o.user) }
      }
      case "INVITE": {
        const refusal = this.outsider(o.actor, false)
        if (refusal !== undefined) return { reply: refusal }
        if (this.visibility === "private" && this.rank(o.actor) < 1) return { reply: "FORBIDDEN" }
        if (this.banned.has(o.user)) return { reply: "BANNED" }
        if (!this.members.has(o.user) && this.visibility === "private") this.invited.add(o.user)
        return { reply: "OK" }
      }
      case "ROLE": {
        const refusal = this.outsider(o.actor, false)
        if (refusal !== undefined) return { reply: refusal }
        if (this.rank(o.actor) < 2) return { reply: "FORBIDDEN" }
        if (o.user === o.actor) return { reply: "FORBIDDEN" } // the only owner cannot step down
        if (!this.members.has(o.user)) return { reply: "NOT_FOUND" }
        this.members.set(o.user, o.role)
        return { reply: "OK" }
      }
      default:
        return this.moderate(o)
    }
  }

  private moderate(o: Extract<Op, { actor: User }>): { readonly reply: string } {
    const refusal = this.outsider(o.actor, false)
    if (refusal !== undefined) return { reply: refusal }
    if (o.actor === o.user && (o.kind === "KICK" || o.kind === "BAN" || o.kind === "MUTE")) {
      return { reply: "FORBIDDEN" }
    }
    const mine = this.rank(o.actor)
    if (mine < 1 || this.rank(o.user) >= mine) return { reply: "FORBIDDEN" }
    const member = this.members.has(o.user)
    switch (o.kind) {
      case "KICK":
        if (!member) return { reply: "NOT_FOUND" }
        this.members.delete(o.user)
        return { reply: "OK" }
      case "BAN":
        this.members.delete(o.user)
        this.invited.delete(o.user)
        this.banned.add(o.user)
        return { reply: "OK" }
      case "MUTE":
        if (!member) return { reply: "NOT_FOUND" }
        this.muted.add(o.user)
        return { reply: "OK" }
      case "UNBAN":
        return { reply: this.banned.delete(o.user) ? "OK" : "NOT_FOUND" }
      default:
        return { reply: this.muted.delete(o.user) ? "OK" : "NOT_FOUND" }
    }
  }

  /** HISTORY of the room: the page, or the error. */
  history(u: User): string {
    if (this.members.has(u)) return "HISTORY"
    if (this.visibility === "private") return "NO_SUCH_ROOM"
    return this.banned.has(u) ? "BANNED" : "HISTORY"
  }
}

const commandOf = (
  o: Op,
  room: string,
  n: number,
  nameOf: (u: User) => string
): { readonly by: User; readonly frame: Record<string, unknown> } => {
  switch (o.kind) {
    case "JOIN":
    case "PART":
    case "HISTORY":
      return { by: o.user, frame: { command: o.kind, room } }
    case "SEND":
      return { by: o.user, frame: { command: "MSG", room, text: `m${n}` } }
    case "ROLE":
      return { by: o.actor, frame: { command: "ROLE", room, user: nameOf(o.user), role: o.role } }
    default:
      return { by: o.actor, frame: { command: o.kind, room, user: nameOf(o.user) } }
  }
}

const isReply = (f: Frame) => ["OK", "ROOM", "ACK", "ERROR", "HISTORY"].includes(f.type)
const outcome = (f: Frame) => (f.type === "ERROR" ? String(f.code) : f.type)

let runs = 0

layer(PeersLive, { timeout: "60 seconds" })("rooms against a reference model", (it) => {
  it.effect.prop(
    "every reply and every delivery is the model's [200 runs]",
    [
      fc.constantFrom("public" as const, "private" as const),
      fc.array(op, { minLength: 1, maxLength: 30, size: "medium" })
    ],
    ([visibility, ops]) =>
      Effect.gen(function*() {
        const peers = yield* Peers
        const run = ++runs
        const owner = peers.owners[run % OWNERS]!
        const wires: Record<User, Wire> = { ...peers.others, owner: owner.wire }
        const nameOf = (u: User) => (u === "owner" ? owner.name : u)
        const room = `m${run}-${Math.random().toString(36).slice(2, 8)}`
        const model = new Model(visibility)
        const start = new Map(USERS.map((u) => [u, wires[u].received.length]))
        yield* wires.owner.send({ command: "ROOM_CREATE", room, visibility })
        assert.strictEqual(outcome(yield* wires.owner.pick(isReply)), "ROOM")
        const expected = new Map<User, Array<string>>(USERS.map((u) => [u, []]))
        const sent: Array<string> = []
        // a prelude, so that most runs start with members to deliver to and to moderate
        const prelude: Array<Op> = [
          { kind: "INVITE", actor: "owner", user: "ann" },
          { kind: "INVITE", actor: "owner", user: "ben" },
          { kind: "JOIN", user: "ann" },
          { kind: "JOIN", user: "ben" },
          { kind: "ROLE", actor: "owner", user: "ann", role: "moderator" }
        ]
        for (const [n, o] of [...prelude, ...ops].entries()) {
          const { by, frame } = commandOf(o, room, n, nameOf)
          const { recipients, reply } = model.apply(o)
          // the owner alone leaving deletes the room: not part of this model
          if (reply === "KEEP") continue
          yield* wires[by].send(frame)
          const got = yield* wires[by].pick(isReply)
          assert.strictEqual(
            outcome(got),
            reply,
            `${JSON.stringify(frame)} by ${by} (${JSON.stringify(ops.slice(0, n + 1))})`
          )
          if (reply === "ACK") sent.push(`m${n}`)
          for (const u of recipients ?? []) expected.get(u)!.push(`m${n}`)
          // a page shows every message of the room so far, whoever reads it
          if (got.type === "HISTORY") assert.deepStrictEqual((got.messages as Array<Frame>).map((m) => m.text), sent)
        }
        for (const u of USERS) {
          const wire = wires[u]
          yield* wire.sync()
          wire.drainPending()
          const live = wire.received.slice(start.get(u)!).filter((f) => f.type === "MESSAGE" && f.room === room)
          assert.deepStrictEqual(live.map((f) => f.text), expected.get(u), `${u} received (${JSON.stringify(ops)})`)
          yield* wire.send({ command: "HISTORY", room })
          assert.strictEqual(outcome(yield* wire.pick(isReply)), model.history(u), `${u} HISTORY`)
        }
      }),
    { fastCheck: { numRuns: 200 }, timeout: 300_000 }
  )
})

describe("the reference model", () => {
  it("the owner is its room's only owner and never leaves a room with others in it", () => {
    const model = new Model("public")
    assert.strictEqual(model.apply({ kind: "JOIN", user: "ann" }).reply, "ROOM")
    assert.strictEqual(model.apply({ kind: "PART", user: "owner" }).reply, "FORBIDDEN")
    assert.strictEqual(model.apply({ kind: "ROLE", actor: "owner", user: "owner", role: "member" }).reply, "FORBIDDEN")
  })
})
