/**
 * The README's walk-through, as a newcomer does it: a person opens the page
 * in Chromium and registers; another runs the real terminal program (in
 * tmux, as `pnpm start:client` runs it); they chat both ways, in `general`
 * and by DM, through a restart of the server, each line shown once on each
 * side, the line typed in the browser while the server was down sent once.
 */
import { assert, describe, it } from "@effect/vitest"
import { repoRoot } from "@parley/testkit"
import { openTerminal, tmuxAvailable } from "@parley/testkit/tmux"
import { Effect } from "effect"
import {
  builtPage,
  delivered,
  launchBrowser,
  openConversation,
  openPage,
  register,
  say,
  seen,
  startServer
} from "./Browser.ts"

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

const terminalProgram = (port: number, user: string) =>
  `env PARLEY_PASSWORD=${user}-password ${process.execPath} --import tsx packages/client/src/bin.ts ` +
  `--port ${port} --user ${user} --register`

/** Rows of the terminal's screen that show `text` as a message (`hh:mm who: text`). */
const shown = (rows: ReadonlyArray<string>, who: string, text: string) =>
  rows.filter((r) => new RegExp(`^\\d\\d:\\d\\d ${who}: ${text}$`).test(r)).length

describe.skipIf(!tmuxAvailable)("the walk-through: the page and the terminal program", () => {
  it.scopedLive(
    "a browser user and a terminal user chat in general and by DM, through a server restart, nothing lost or doubled",
    () =>
      Effect.gen(function*() {
        const dist = yield* built
        const { server, url } = yield* startServer(dist)
        const browser = yield* launchBrowser
        const wren = yield* openPage(browser, url)
        yield* register(wren.page, "wren")
        const term = yield* openTerminal(terminalProgram(server.port, "tom"), { cwd: repoRoot, width: 100, height: 30 })
        yield* term.waitFor("tom connected", (rows) => rows.some((r) => r.includes("connected · tom @")))
        yield* promise(() => wren.page.locator("#online-list").getByRole("button", { name: /tom/ }).waitFor())

        // both ways in general
        yield* term.type("hello from the terminal")
        yield* term.press("Enter")
        yield* seen(wren.page, "hello from the terminal")
        yield* say(wren.page, "hello from the browser")
        yield* term.waitFor("wren's message", (rows) => shown(rows, "wren", "hello from the browser") === 1)

        // the server restarts under both; the browser's line typed meanwhile waits, then goes once
        yield* server.kill
        yield* promise(() => wren.page.locator("#banner", { hasText: /Reconnecting in \d+ s/ }).waitFor())
        yield* say(wren.page, "typed while it was down")
        yield* server.restart
        yield* promise(() => wren.page.locator("#banner").waitFor({ state: "hidden" }))
        yield* term.waitFor("the line typed in the browser while down", (rows) =>
          shown(rows, "wren", "typed while it was down") === 1)
        yield* term.waitFor("tom connected again", (rows) =>
          rows.some((r) => r.includes("connected · tom @")))
        yield* term.type("back again")
        yield* term.press("Enter")
        yield* seen(wren.page, "back again")

        // a DM from the terminal, answered from the page
        yield* term.type("/msg wren just between us")
        yield* term.press("Enter")
        yield* openConversation(wren.page, "@tom")
        yield* seen(wren.page, "just between us")
        yield* say(wren.page, "agreed")
        const rows = yield* term.waitFor("wren's DM", (rows) => rows.some((r) => /wren.*agreed$/.test(r)))

        for (const text of ["hello from the browser", "typed while it was down"]) {
          assert.strictEqual(shown(rows, "wren", text), 1, `${text}:\n${rows.join("\n")}`)
        }
        yield* openConversation(wren.page, "#general")
        for (const text of ["hello from the terminal", "typed while it was down", "back again"]) {
          assert.strictEqual(yield* promise(() => delivered(wren.page, text).count()), 1, text)
        }
        assert.deepStrictEqual(wren.errors.filter((e) => !/WebSocket|ERR_CONNECTION_REFUSED/.test(e)), [])
      }),
    180_000
  )
})

const built = builtPage()
