import { assert, describe, it } from "@effect/vitest"
import { meanRoomSize, owedDeliveries, planRooms, tallyDeliveries } from "../src/RoomsPlan.ts"

const plan = (users: number, rooms: number, perUser: number, seed = 1) =>
  planRooms({ users, rooms, perUser, seed, name: (r) => `room${r}` })

describe("planRooms", () => {
  it("puts every user in perUser distinct rooms, the two indexes agreeing, rooms of about one size", () => {
    const p = plan(1000, 100, 5)
    assert.strictEqual(p.roomsOf.length, 1000)
    for (const [u, rooms] of p.roomsOf.entries()) {
      assert.strictEqual(new Set(rooms).size, 5, `user ${u}`)
      for (const r of rooms) assert.isTrue(p.members[r]!.includes(u), `user ${u} in room ${r}`)
    }
    assert.strictEqual(p.members.reduce((n, m) => n + m.length, 0), 5000)
    const sizes = p.members.map((m) => m.length)
    assert.isAtMost(Math.max(...sizes) - Math.min(...sizes), 3)
    assert.strictEqual(meanRoomSize(p), 50)
    // each room's creator is one of its members
    for (const [r, creator] of p.creators.entries()) assert.isTrue(p.members[r]!.includes(creator), `room ${r}`)
    assert.deepStrictEqual(p.names.slice(0, 2), ["room0", "room1"])
  })

  it("is the same plan for the same seed and another for another seed", () => {
    assert.deepStrictEqual(plan(200, 20, 5, 7), plan(200, 20, 5, 7))
    assert.notDeepEqual(plan(200, 20, 5, 7).roomsOf, plan(200, 20, 5, 8).roomsOf)
  })

  it("with fewer rooms than perUser puts everyone in every room", () => {
    const p = plan(10, 3, 5)
    for (const rooms of p.roomsOf) assert.deepStrictEqual(rooms, [0, 1, 2])
  })

  it("gives a room nobody was dealt its creator as its member", () => {
    const p = plan(2, 10, 1)
    for (const [r, m] of p.members.entries()) {
      assert.isAtLeast(m.length, 1, `room ${r}`)
      assert.isTrue(p.roomsOf[p.creators[r]!]!.includes(r), `room ${r}`)
    }
  })

  it("refuses sizes that make no plan", () => {
    assert.throws(() => plan(1, 10, 5), /users/)
    assert.throws(() => plan(10, 0, 5), /rooms/)
    assert.throws(() => plan(10, 10, 0), /per user/)
  })
})

describe("owedDeliveries", () => {
  it("owes each user the messages to its rooms but its own, and nothing to one who was not live", () => {
    // users 0,1 in room 0; users 1,2 in room 1
    const p = {
      users: 3,
      names: ["a", "b"],
      members: [[0, 1], [1, 2]],
      roomsOf: [[0], [0, 1], [1]],
      creators: [0, 1]
    }
    // 3 messages to room 0 (2 by user 0, 1 by user 1), 4 to room 1 (all by user 2)
    const owed = owedDeliveries(p, [3, 4], [2, 1, 4], () => true)
    assert.deepStrictEqual(owed, [1, 3 + 4 - 1, 0])
    assert.deepStrictEqual(owedDeliveries(p, [3, 4], [2, 1, 4], (u) => u !== 1), [1, 0, 0])
  })
})

describe("tallyDeliveries", () => {
  it("counts connection by connection: a surplus on one does not make up for a shortfall on another", () => {
    const t = tallyDeliveries([5, 5, 0], [5, 3, 2])
    assert.deepStrictEqual(t, { delivered: 8, missing: 2, extra: 2, wrongConnections: 2 })
  })

  it("is clean when every connection got what it was owed", () => {
    assert.deepStrictEqual(tallyDeliveries([4, 0, 7], [4, 0, 7]), {
      delivered: 11,
      missing: 0,
      extra: 0,
      wrongConnections: 0
    })
  })
})
