/**
 * HISTORY: the public timeline and DM conversations, oldest first, paged
 * with before / after / limit and has_more.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { contractTimeout, startServer } from "./support/TestServer.ts"
import { type Frame, ids, say, sayAll, signUp } from "./support/Wire.ts"

describe.concurrent("history", { timeout: contractTimeout }, () => {
  it.scopedLive("the public timeline pages oldest first with before, after, limit and has_more", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const { wire: alice } = yield* signUp(server.port, "alice")
      const { wire: bob } = yield* signUp(server.port, "bob")
      // seven public messages with DMs interleaved, which the public timeline never shows
      const m: Array<number> = []
      for (let i = 1; i <= 7; i++) {
        m.push((yield* say(i % 2 === 0 ? bob : alice, `p${i}`)).message_id as number)
        yield* say(alice, `dm${i}`, { to: "bob" })
      }
      const page = (fields: Record<string, unknown>) => bob.ask({ command: "HISTORY", ...fields }, "HISTORY")
      const all = yield* page({ id: "h" })
      assert.strictEqual(all.id, "h")
      assert.deepStrictEqual(ids(all), m)
      assert.isFalse(all.has_more)
      const first = (all.messages as Array<Frame>)[0]!
      assert.deepStrictEqual(Object.keys(first).sort(), [
        "from",
        "message_id",
        "room",
        "text",
        "timestamp",
        "to",
        "type"
      ])
      assert.deepStrictEqual([first.type, first.from, first.to, first.room, first.text], [
        "MESSAGE",
        "alice",
        null,
        "general",
        "p1"
      ])

      const cases: ReadonlyArray<readonly [Record<string, unknown>, Array<number>, boolean]> = [
        [{ limit: 3 }, m.slice(4), true],
        [{ limit: 7 }, m, false],
        [{ limit: 100 }, m, false],
        [{ before: m[4], limit: 3 }, m.slice(1, 4), true],
        [{ before: m[1], limit: 3 }, m.slice(0, 1), false],
        [{ before: m[0] }, [], false],
        [{ after: m[1], limit: 3 }, m.slice(2, 5), true],
        [{ after: m[4], limit: 3 }, m.slice(5), false],
        [{ after: m[6] }, [], false],
        [{ after: 0, limit: 2 }, m.slice(0, 2), true],
        [{ before: m[6]! + 1000 }, m, false]
      ]
      for (const [fields, expected, hasMore] of cases) {
        const reply = yield* page(fields)
        assert.deepStrictEqual(ids(reply), expected, JSON.stringify(fields))
        assert.strictEqual(reply.has_more, hasMore, `has_more for ${JSON.stringify(fields)}`)
      }
      // both cursors: a window
      assert.deepStrictEqual(ids(yield* page({ after: m[1], before: m[5] })), m.slice(2, 5))
      assert.deepStrictEqual(ids(yield* page({ after: m[1], before: m[5], limit: 2 })), m.slice(2, 4))
      // paging back to the start with `before` visits everything once
      const seen: Array<number> = []
      let cursor: Record<string, unknown> = { limit: 2 }
      while (true) {
        const reply = yield* page(cursor)
        seen.unshift(...ids(reply))
        if (reply.has_more !== true) break
        cursor = { limit: 2, before: ids(reply)[0] }
      }
      assert.deepStrictEqual(seen, m)
    }))

  it.scopedLive("limit defaults to 50 and is 1..100; cursors are message ids", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const { wire: alice } = yield* signUp(server.port, "alice")
      const acks = yield* sayAll(alice, Array.from({ length: 60 }, (_, i) => `n${i}`))
      const all = acks.map((a) => a.message_id as number)
      const reply = yield* alice.ask({ command: "HISTORY" }, "HISTORY")
      assert.deepStrictEqual(ids(reply), all.slice(10))
      assert.isTrue(reply.has_more)
      assert.deepStrictEqual(ids(yield* alice.ask({ command: "HISTORY", limit: 1 }, "HISTORY")), all.slice(59))
      const forward = yield* alice.ask({ command: "HISTORY", after: 0 }, "HISTORY")
      assert.deepStrictEqual(ids(forward), all.slice(0, 50))
      assert.isTrue(forward.has_more)
      const rejected: ReadonlyArray<readonly [Record<string, unknown>, RegExp]> = [
        [{ limit: 0 }, /limit/],
        [{ limit: 101 }, /limit/],
        [{ limit: -1 }, /limit/],
        [{ limit: 2.5 }, /limit/],
        [{ limit: "10" }, /limit/],
        [{ before: "x" }, /before/],
        [{ before: 1.5 }, /before/],
        [{ after: "x" }, /after/],
        [{ after: 2.5 }, /after/]
      ]
      for (const [fields, names] of rejected) {
        yield* alice.send({ command: "HISTORY", id: "bad", ...fields })
        const error = yield* alice.expectError("INVALID_COMMAND")
        assert.strictEqual(error.id, "bad")
        assert.match(String(error.message), names, JSON.stringify(fields))
      }
    }))

  it.scopedLive("`with` gives the DMs between you two, both ways, oldest first; an unknown or malformed name is UNKNOWN_USER", () =>
    Effect.gen(function*() {
      const server = yield* startServer()
      const { wire: alice } = yield* signUp(server.port, "alice")
      const { wire: bob } = yield* signUp(server.port, "Bob")
      const { wire: carol } = yield* signUp(server.port, "carol")
      const d1 = (yield* say(alice, "a->b 1", { to: "bob" })).message_id
      yield* say(alice, "public")
      const d2 = (yield* say(bob, "b->a", { to: "alice" })).message_id
      yield* say(alice, "a->c", { to: "carol" })
      yield* say(carol, "c->b", { to: "bob" })
      const self = (yield* say(alice, "a->a", { to: "alice" })).message_id
      const d3 = (yield* say(alice, "a->b 2", { to: "BOB" })).message_id
      const ab = yield* alice.ask({ command: "HISTORY", with: "bob", id: 3 }, "HISTORY")
      assert.strictEqual(ab.id, 3)
      assert.deepStrictEqual(
        (ab.messages as Array<Frame>).map((m) => [m.message_id, m.from, m.to, m.text]),
        [[d1, "alice", "Bob", "a->b 1"], [d2, "Bob", "alice", "b->a"], [d3, "alice", "Bob", "a->b 2"]]
      )
      assert.isFalse(ab.has_more)
      // the same conversation from the other side, with the name in another case
      assert.deepStrictEqual(ids(yield* bob.ask({ command: "HISTORY", with: "ALICE" }, "HISTORY")), [d1, d2, d3])
      // paging works the same way
      const last = yield* alice.ask({ command: "HISTORY", with: "bob", limit: 2 }, "HISTORY")
      assert.deepStrictEqual(ids(last), [d2, d3])
      assert.isTrue(last.has_more)
      assert.deepStrictEqual(ids(yield* alice.ask({ command: "HISTORY", with: "bob", before: d2 }, "HISTORY")), [d1])
      assert.deepStrictEqual(
        ids(yield* alice.ask({ command: "HISTORY", with: "bob", after: d1, limit: 1 }, "HISTORY")),
        [d2]
      )
      // with yourself: your notes to yourself only
      assert.deepStrictEqual(ids(yield* alice.ask({ command: "HISTORY", with: "alice" }, "HISTORY")), [self])
      // a third party's conversations are not yours
      assert.deepStrictEqual(
        (yield* carol.ask({ command: "HISTORY", with: "bob" }, "HISTORY")).messages as Array<Frame>,
        [(yield* bob.ask({ command: "HISTORY", with: "carol" }, "HISTORY")).messages as Array<Frame>].flat()
      )
      assert.deepStrictEqual(
        ((yield* carol.ask({ command: "HISTORY", with: "bob" }, "HISTORY")).messages as Array<Frame>).map((m) =>
          m.text
        ),
        ["c->b"]
      )
      for (const name of ["nobody", "no", "bad name!", ""]) {
        yield* alice.send({ command: "HISTORY", with: name, id: name })
        assert.strictEqual((yield* alice.replyError("UNKNOWN_USER")).id, name)
      }
    }))
})
