/**
 * Issue 13's "Done when" in the terminal program itself: two people create a
 * private room, invite a third, and moderate it (mute, delete a message,
 * kick, ban), each in their own tmux terminal against the real server. Every
 * step is read off the screens: the actor's confirmation, the others' event
 * lines, the refusals in words.
 */
import { assert, describe, it } from "@effect/vitest"
import { repoRoot, spawnServer } from "@parley/testkit"
import { openTerminal, type Terminal } from "@parley/testkit/tmux"
import { Effect } from "effect"

const promptRow = (rows: ReadonlyArray<string>) => rows.findLastIndex((r) => r === ">" || r.startsWith("> "))
const statusOf = (rows: ReadonlyArray<string>) => rows[promptRow(rows) - 1] ?? ""

const program = (port: number, user: string) =>
  `env NO_COLOR=1 PARLEY_PASSWORD=password-of-${user} ${process.execPath} --import tsx packages/client/src/bin.ts ` +
  `--port ${port} --user ${user} --register`

/** Types a line, presses Enter, and waits until a row matches `shows`. */
const say = (term: Terminal, line: string, what: string, shows: RegExp) =>
  Effect.gen(function*() {
    yield* term.type(line)
    yield* term.press("Enter")
    return yield* term.waitFor(what, (rows) => rows.some((r) => shows.test(r)))
  })

const sees = (term: Terminal, what: string, shows: RegExp) =>
  term.waitFor(what, (rows) => rows.some((r) => shows.test(r)))

describe("rooms in the terminal program", () => {
  it.scopedLive(
    "create a private room, invite, mute, delete a message, kick and ban, as three people see it",
    () =>
      Effect.gen(function*() {
        const server = yield* spawnServer()
        const open = (user: string) =>
          Effect.tap(
            openTerminal(program(server.port, user), { cwd: repoRoot, width: 110, height: 30 }),
            (term) =>
              term.waitFor(`${user} connected`, (rows) => statusOf(rows).trim().startsWith(`connected · ${user}`))
          )
        const alice = yield* open("alice")
        const bob = yield* open("bob")
        const carol = yield* open("carol")

        yield* say(
          alice,
          "/create ops private on call",
          "the room created",
          /^-- created the private room ops — on call/
        )
        yield* alice.waitFor("#ops in alice's status line", (rows) => statusOf(rows).includes("· #ops ·"))
        yield* say(carol, "/join ops", "a private room refused", /^! no room named ops/)
        yield* say(alice, "/invite bob", "the invitation sent", /^-- invited bob to ops$/)
        yield* sees(bob, "the invitation", /alice invited you to ops: \/join ops/)
        yield* say(bob, "/join ops", "bob in ops", /^-- joined ops — on call/)
        yield* sees(alice, "bob joined", /— bob joined/)
        yield* say(alice, "/op bob", "alice's confirmation", /^-- bob is now moderator of ops$/)
        yield* sees(bob, "bob made moderator", /— alice made you moderator/)

        yield* say(bob, "/invite carol", "bob invites", /^-- invited carol to ops$/)
        yield* say(carol, "/join ops", "carol in ops", /^-- joined ops/)
        yield* say(carol, "hello all", "carol's message", /^\d\d:\d\d you: hello all$/)
        yield* sees(alice, "carol's message in ops", /^\d\d:\d\d carol: hello all$/)

        yield* say(bob, "/mute carol 10m not now", "bob's confirmation", /^-- muted carol in ops for 10 min: not now$/)
        yield* sees(carol, "carol told she is muted", /— you were muted by bob for 10 min: not now/)
        yield* say(carol, "sorry", "the refusal", /not delivered: MUTED/)

        yield* say(bob, "/delete carol", "bob's confirmation", /^-- message #\d+ deleted$/)
        yield* sees(alice, "the deletion", /— message #\d+ was deleted by bob/)

        yield* say(bob, "/kick carol rude", "bob's confirmation", /^-- kicked carol from ops: rude$/)
        yield* sees(carol, "carol told she was kicked", /— you were kicked by bob: rude/)
        yield* say(alice, "/ban carol 1d spam", "alice's confirmation", /^-- banned carol from ops for 1 day: spam$/)
        yield* sees(bob, "the ban", /— carol was banned by alice for 1 day: spam/)
        yield* say(carol, "/join ops", "carol kept out", /^! .*(banned|no room named ops)/)
        // the others' screens never showed carol's words after the mute
        const aliceRows = yield* alice.screen()
        assert.isFalse(aliceRows.some((r) => /carol: sorry/.test(r)), aliceRows.join("\n"))
      }),
    { timeout: 120_000 }
  )
})
