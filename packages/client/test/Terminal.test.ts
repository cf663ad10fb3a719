import { assert, describe, it } from "@effect/vitest"
import type { Message, Receipt } from "@parley/protocol"
import { repoRoot, spawnServer } from "@parley/testkit"
import { openTerminal } from "@parley/testkit/tmux"
import { Effect } from "effect"
import type { ChatEvent } from "../src/ChatClient.ts"
import { clientOf, waitFor } from "./Support.ts"

const isText = (text: string) => (e: ChatEvent): e is Message => e.type === "MESSAGE" && e.text === text

// the prompt is the last row that starts with ">"; the status line is right above it
const promptRow = (rows: ReadonlyArray<string>) => rows.findLastIndex((r) => r === ">" || r.startsWith("> "))
const statusOf = (rows: ReadonlyArray<string>) => rows[promptRow(rows) - 1] ?? ""

// the password itself, or a mask as long as it (which tells its length)
const echoes = (password: string) => (row: string) =>
  row.includes(password) || row.includes("*".repeat(password.length))

const program = (port: number, user: string, env: string) =>
  `env -u NO_COLOR ${env} ${process.execPath} --import tsx packages/client/src/bin.ts --port ${port} --user ${user} --register`

describe("the interactive program, in a terminal", () => {
  it.scopedLive(
    "chat as a person sees it: typing, arrivals mid-line, DMs, receipts, a server restart, /quit",
    () =>
      Effect.gen(function*() {
        const server = yield* spawnServer()
        const bob = yield* clientOf(server, "bob")
        const bobEvents = yield* bob.subscribe
        yield* bob.connect
        yield* bob.send("before alice came")

        const term = yield* openTerminal(program(server.port, "alice", "PARLEY_PASSWORD=alice-password"), {
          cwd: repoRoot,
          width: 100,
          height: 24
        })
        let rows = yield* term.waitFor(
          "the status line saying connected",
          (rows) => statusOf(rows).includes(`connected · alice @ 127.0.0.1:${server.port} · #general · 2 online`)
        )
        // recent public messages are shown on arrival, with a local time (fetched right after the
        // login, so they may be drawn just after the status line says connected)
        rows = yield* term.waitFor(
          "bob's earlier message",
          (rows) => rows.some((r) => /^\d\d:\d\d bob: before alice came$/.test(r))
        )
        assert.isTrue(rows.some((r) => /^\d\d:\d\d bob: before alice came$/.test(r)), rows.join("\n"))

        // what you type is sent, and shown once, as your message
        yield* term.type("hello everyone")
        yield* term.press("Enter")
        yield* waitFor(bobEvents, isText("hello everyone"))
        rows = yield* term.waitFor(
          "alice's own message",
          (rows) => rows.some((r) => /^\d\d:\d\d you: hello everyone$/.test(r))
        )
        assert.isFalse(rows.some((r) => r.includes("> hello everyone")), "the typed line stays on screen")

        // a message arriving while a line is half typed goes above it; the line is intact
        yield* term.type("half typ")
        yield* term.waitFor("the half-typed line", (rows) => rows[promptRow(rows)] === "> half typ")
        yield* bob.send("interrupting you")
        rows = yield* term.waitFor("bob's message", (rows) => rows.some((r) => r.endsWith("bob: interrupting you")))
        const arrived = rows.findIndex((r) => r.endsWith("bob: interrupting you"))
        assert.match(rows[arrived]!, /^\d\d:\d\d bob: interrupting you$/)
        assert.strictEqual(rows[promptRow(rows)], "> half typ")
        assert.strictEqual(promptRow(rows), arrived + 2, rows.join("\n"))
        assert.include(statusOf(rows), "connected")
        yield* term.type("ed line")
        yield* term.press("Enter")
        yield* waitFor(bobEvents, isText("half typed line"))

        // a DM looks different, is marked read, and bob gets the receipt
        const dm = yield* bob.send("a secret", "alice")
        rows = yield* term.waitFor(
          "the DM",
          (rows) => rows.some((r) => /^\d\d:\d\d \[DM\] bob → you: a secret$/.test(r))
        )
        const receipt = yield* waitFor(bobEvents, (e): e is Receipt => e.type === "RECEIPT")
        assert.strictEqual(receipt.message_id, dm.message_id)
        assert.strictEqual(receipt.by, "alice")
        const colored = yield* term.screen({ colors: true })
        const dmRow = colored.find((r) => r.includes("a secret"))!
        // eslint-disable-next-line no-control-regex
        assert.match(dmRow, /\x1b\[[0-9;]*35m/, "DMs are magenta on a colour terminal")

        // /msg, and the receipt when bob reads it
        yield* term.type("/msg bob psst, bob")
        yield* term.press("Enter")
        const toBob = yield* waitFor(bobEvents, isText("psst, bob"))
        assert.strictEqual(toBob.to, "bob")
        yield* term.waitFor("alice's DM", (rows) => rows.some((r) => /\[DM\] you → bob: psst, bob$/.test(r)))
        yield* bob.markRead(toBob.message_id)
        yield* term.waitFor(
          "the receipt",
          (rows) => rows.some((r) => r.includes(`✓ bob read your message "psst, bob"`))
        )

        // commands
        yield* term.type("/who")
        yield* term.press("Enter")
        yield* term.waitFor("the online list", (rows) => rows.some((r) => r === "-- online (2): alice, bob"))
        yield* term.type("/history")
        yield* term.press("Enter")
        yield* term.waitFor("the history", (rows) => rows.some((r) => /── last \d+ public messages ──/.test(r)))
        yield* term.type("/nonsense")
        yield* term.press("Enter")
        yield* term.waitFor("the hint", (rows) => rows.some((r) => r.includes("unknown command /nonsense: type /help")))

        // the server dies: the status line counts down; what is typed meanwhile is sent afterwards, once
        yield* server.kill
        rows = yield* term.waitFor("reconnecting", (rows) => /reconnecting in \d+s/.test(statusOf(rows)))
        assert.isTrue(rows.some((r) => r.startsWith("! connection lost:")), rows.join("\n"))
        yield* term.type("sent while the server was down")
        yield* term.press("Enter")
        // shown at once, marked as not sent yet, just above the status line
        rows = yield* term.waitFor("the unsent count", (rows) => statusOf(rows).includes("1 unsent"))
        assert.strictEqual(
          rows[promptRow(rows) - 2],
          "⋯ you: sent while the server was down (not sent yet)",
          rows.join("\n")
        )
        yield* server.restart
        yield* waitFor(bobEvents, isText("sent while the server was down"), "30 seconds")
        rows = yield* term.waitFor(
          "reconnected",
          (rows) =>
            rows.some((r) => r.startsWith("-- reconnected")) && statusOf(rows).includes("connected ·") &&
            rows.some((r) => r.endsWith("you: sent while the server was down"))
        )
        assert.strictEqual(rows.filter((r) => r.endsWith("you: sent while the server was down")).length, 1)
        assert.notInclude(statusOf(rows), "unsent")
        rows = yield* term.waitFor("the pending line gone", (rows) => !rows.some((r) => r.includes("(not sent yet)")))
        assert.strictEqual(rows.filter((r) => r.includes("sent while the server was down")).length, 1, rows.join("\n"))

        yield* term.type("/quit")
        yield* term.press("Enter")
        yield* term.waitFor("the program to exit", (rows) => rows.includes("[exited 0]"))
      }),
    { timeout: 120_000 }
  )

  it.scopedLive(
    "a message arriving while the typed line wraps over several rows leaves the line whole, cursor and all",
    () =>
      Effect.gen(function*() {
        const server = yield* spawnServer()
        const bob = yield* clientOf(server, "bob")
        const events = yield* bob.subscribe
        yield* bob.connect
        const term = yield* openTerminal(program(server.port, "fay", "PARLEY_PASSWORD=fay-password"), {
          cwd: repoRoot,
          width: 40,
          height: 20
        })
        yield* term.waitFor("connected", (rows) => statusOf(rows).trim().startsWith("connected · fay"))
        // 2 + 90 characters: the input takes three rows of 40
        const typed = "0123456789".repeat(9)
        yield* term.type(typed)
        const input = (rows: ReadonlyArray<string>) => rows.slice(promptRow(rows), promptRow(rows) + 3).join("")
        yield* term.waitFor("the wrapped line", (rows) => input(rows) === "> " + typed)
        for (const n of [1, 2]) {
          yield* bob.send(`arrival ${n}`)
          const rows = yield* term.waitFor(
            `arrival ${n} above the status line`,
            (rows) => rows[promptRow(rows) - 2]?.endsWith(`bob: arrival ${n}`) === true
          )
          assert.strictEqual(input(rows), "> " + typed, rows.join("\n"))
          assert.strictEqual(rows.slice(promptRow(rows) + 3).join(""), "", rows.join("\n"))
        }
        // the cursor is still at the end of the line: what is typed next joins it
        yield* term.type("!")
        yield* term.press("Enter")
        yield* waitFor(events, isText(typed + "!"))
        yield* term.press("C-d")
        yield* term.waitFor("the program to exit", (rows) => rows.includes("[exited 0]"))
      }),
    { timeout: 60_000 }
  )

  it.scopedLive("the password is asked without echo; NO_COLOR turns colour off", () =>
    Effect.gen(function*() {
      const server = yield* spawnServer()
      const term = yield* openTerminal(
        `NO_COLOR=1 ${process.execPath} --import tsx packages/client/src/bin.ts --port ${server.port} --user carol --register`,
        { cwd: repoRoot }
      )
      yield* term.waitFor("the password prompt", (rows) => rows.some((r) => r.startsWith("? Password for carol")))
      yield* term.type("carols-secret")
      yield* term.press("Enter")
      // the first answer is drawn in its final form by the time the second question is asked
      const asked = yield* term.waitFor("the second prompt", (rows) => rows.some((r) => r.startsWith("? Repeat it")))
      assert.isFalse(asked.some(echoes("carols-secret")), `the password was echoed:\n${asked.join("\n")}`)
      yield* term.type("carols-secret")
      yield* term.press("Enter")
      const rows = yield* term.waitFor("connected", (rows) => statusOf(rows).trim().startsWith("connected · carol"))
      assert.isFalse(rows.some(echoes("carols-secret")), `the password was echoed:\n${rows.join("\n")}`)
      const raw = yield* term.screen({ colors: true })
      assert.isFalse(raw.some((r) => r.includes("\x1b[")), "colour despite NO_COLOR")
      // after Ctrl-D the status line says how it ended, not the state it was in when the key was pressed
      yield* term.press("C-d")
      const end = yield* term.waitFor("the program to exit", (rows) => rows.includes("[exited 0]"))
      const exitedAt = end.indexOf("[exited 0]")
      assert.match(end[exitedAt - 1]!, /^ disconnected · carol @ /, end.join("\n"))
      assert.strictEqual(end[exitedAt - 2], "-- bye", end.join("\n"))
      assert.isFalse(end.some((r) => /^ connected · /.test(r)), end.join("\n"))
    }), { timeout: 60_000 })

  it.scopedLive(
    "Ctrl-C at the password prompt: one line saying so under it, no stack trace, exit 1",
    () =>
      Effect.gen(function*() {
        // no server is needed: the question comes before any connection
        const term = yield* openTerminal(
          `env -u PARLEY_PASSWORD NO_COLOR=1 ${process.execPath} --import tsx packages/client/src/bin.ts --user carol`,
          { cwd: repoRoot }
        )
        yield* term.waitFor("the password prompt", (rows) => rows.some((r) => r.startsWith("? Password for carol")))
        yield* term.type("half-typed")
        yield* term.press("C-c")
        const rows = yield* term.waitFor("the program to exit", (rows) => rows.some((r) => /^\[exited \d+\]$/.test(r)))
        assert.deepStrictEqual(
          rows.filter((r) => r !== ""),
          ["? Password for carol ›", "parley: no password entered", "[exited 1]"],
          rows.join("\n")
        )
      }),
    { timeout: 30_000 }
  )

  it.scopedLive(
    "without a user the chat asks for the name, refusing one that is not a username on the spot",
    () =>
      Effect.gen(function*() {
        const term = yield* openTerminal(
          `env -u PARLEY_USER -u PARLEY_PASSWORD NO_COLOR=1 ${process.execPath} --import tsx packages/client/src/bin.ts`,
          { cwd: repoRoot }
        )
        yield* term.waitFor("the username prompt", (rows) => rows.some((r) => r.startsWith("? Username")))
        yield* term.type("x!")
        yield* term.press("Enter")
        yield* term.waitFor(
          "the rule for usernames",
          (rows) => rows.some((r) => r.includes("3..32 of A-Z a-z 0-9 _ -"))
        )
        yield* term.press("BSpace", "BSpace")
        yield* term.type("carol")
        yield* term.press("Enter")
        yield* term.waitFor("the password prompt", (rows) => rows.some((r) => r.startsWith("? Password for carol")))
        yield* term.press("C-c")
        yield* term.waitFor("the program to exit", (rows) => rows.includes("[exited 1]"))
      }),
    { timeout: 30_000 }
  )

  it.scopedLive(
    "listen with its output in a file asks for the password on the terminal, not in the file",
    () =>
      Effect.gen(function*() {
        const term = yield* openTerminal(
          `env -u PARLEY_PASSWORD ${process.execPath} --import tsx packages/client/src/bin.ts --user carol listen > /dev/null`,
          { cwd: repoRoot }
        )
        yield* term.waitFor("the password prompt", (rows) => rows.some((r) => r.startsWith("? Password for carol")))
        yield* term.press("C-c")
        yield* term.waitFor("the program to exit", (rows) => rows.includes("[exited 1]"))
      }),
    { timeout: 30_000 }
  )

  it.scopedLive(
    "/sessions lists where you are logged in; /revoke logs a session out, and the revoked program says so and exits",
    () =>
      Effect.gen(function*() {
        const server = yield* spawnServer()
        const here = yield* openTerminal(program(server.port, "dana", "PARLEY_PASSWORD=dana-password"), {
          cwd: repoRoot,
          width: 100,
          height: 24
        })
        yield* here.waitFor("connected", (rows) => statusOf(rows).trim().startsWith("connected · dana"))
        const there = yield* openTerminal(program(server.port, "dana", "PARLEY_PASSWORD=dana-password"), {
          cwd: repoRoot,
          width: 100,
          height: 24
        })
        yield* there.waitFor("connected", (rows) => statusOf(rows).trim().startsWith("connected · dana"))

        yield* here.type("/sessions")
        yield* here.press("Enter")
        const rows = yield* here.waitFor("two sessions listed", (rows) =>
          rows.some((r) => r.includes("── your sessions (2) ──")))
        const listed = rows.filter((r) =>
          /^\s+\d+\s+127\.0\.0\.1\s+since /.test(r)
        )
        assert.strictEqual(listed.length, 2, rows.join("\n"))
        const other = listed.find((r) => !r.includes("(this one)"))!
        const otherId = /^\s+(\d+)/.exec(other)![1]!

        yield* here.type(`/revoke ${otherId}`)
        yield* here.press("Enter")
        yield* here.waitFor("the confirmation", (rows) =>
          rows.some((r) => r.includes(`session ${otherId} is logged out`)))
        yield* there.waitFor("the revoked program to say why and exit", (rows) =>
          rows.some((r) =>
            r.includes("revoked")
          ) && rows.some((r) => /^\[exited \d+\]$/.test(r)))
        yield* here.type("/revoke 999999")
        yield* here.press("Enter")
        yield* here.waitFor("the refusal", (rows) =>
          rows.some((r) => r.includes("no open session 999999 of yours")))
        yield* here.press("C-d")
        yield* here.waitFor("the program to exit", (rows) => rows.includes("[exited 0]"))
      }),
    { timeout: 90_000 }
  )

  it.scopedLive(
    "Tab completes commands and names of people online; /me sends an action; /clear clears the screen",
    () =>
      Effect.gen(function*() {
        const server = yield* spawnServer()
        const bobby = yield* clientOf(server, "bobby")
        const bobbyEvents = yield* bobby.subscribe
        yield* bobby.connect
        const term = yield* openTerminal(program(server.port, "erin", "PARLEY_PASSWORD=erin-password"), {
          cwd: repoRoot,
          width: 100,
          height: 24
        })
        yield* term.waitFor("connected", (rows) => statusOf(rows).trim().startsWith("connected · erin"))

        yield* term.type("hi bob")
        yield* term.press("Tab")
        yield* term.waitFor("the name completed", (rows) => rows[promptRow(rows)] === "> hi bobby")
        yield* term.press("Enter")
        yield* waitFor(bobbyEvents, isText("hi bobby"))

        yield* term.type("/cle")
        yield* term.press("Tab")
        yield* term.waitFor("the command completed", (rows) => rows[promptRow(rows)] === "> /clear")
        yield* term.press("Enter")
        yield* term.waitFor("a clear screen", (rows) => !rows.some((r) => r.includes("hi bobby")))

        yield* term.type("/me waves")
        yield* term.press("Enter")
        yield* waitFor(bobbyEvents, isText("* erin waves"))
        yield* term.press("C-d")
        yield* term.waitFor("the program to exit", (rows) => rows.includes("[exited 0]"))
      }),
    { timeout: 90_000 }
  )
})
