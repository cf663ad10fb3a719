/**
 * The web client's test rig, all real: the page built by Vite from the current sources (once per
 * test file, into a temporary directory), the server process from `@parley/testkit` serving it on
 * a web port of its own, and Debian's Chromium driven by `playwright-core` (no downloaded
 * browser). Everything waits for an event (a locator, a frame, a line), never for time.
 */
import { assert } from "@effect/vitest"
import { spawnServer } from "@parley/testkit"
import type { ServerProcess } from "@parley/testkit"
import { Effect, type Scope } from "effect"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core"
import { afterAll } from "vitest"

const webRoot = Path.resolve(import.meta.dirname, "..")
const require = createRequire(import.meta.url)

/** Where a test run's screenshots go (gitignored). */
export const screenshotDir = Path.join(webRoot, "test-results/screens")

/** The flags the tests launch Chromium with (DEVELOPERS.md says why each). */
export const chromiumFlags = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run"
]

/**
 * The page built from the current sources, once for the test file that calls this (the first
 * test to ask builds it), into a temporary directory removed when the file's tests are done.
 */
export const builtPage = (): Effect.Effect<string> => {
  // made by the first test that asks (a run that skips them all leaves nothing behind)
  let dir: string | undefined
  afterAll(() => {
    if (dir !== undefined) Fs.rmSync(dir, { recursive: true, force: true })
  })
  let built: Promise<string> | undefined
  return Effect.promise(() =>
    built ??= import("vite").then(async (vite) => {
      dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "parley-web-"))
      const outDir = Path.join(dir, "dist")
      await vite.build({
        root: webRoot,
        configFile: Path.join(webRoot, "vite.config.ts"),
        logLevel: "warn",
        build: { outDir, emptyOutDir: true, sourcemap: false }
      })
      return outDir
    })
  )
}

/** A port nothing listens on now (the server takes it; a restart keeps it). */
const freePort = Effect.async<number>((resume) => {
  const server = Net.createServer()
  server.listen(0, "127.0.0.1", () => {
    const port = (server.address() as Net.AddressInfo).port
    server.close(() => resume(Effect.succeed(port)))
  })
})

export interface WebServer {
  readonly server: ServerProcess
  /** `http://127.0.0.1:<web port>/`, as the server's start-up line says. */
  readonly url: string
}

/** The server with its web port serving `page`, owned by the scope. */
export const startServer = (page: string, flags: ReadonlyArray<string> = []) =>
  Effect.gen(function*() {
    const webPort = yield* freePort
    const server = yield* spawnServer({ flags: ["--web-port", String(webPort), "--web-root", page, ...flags] })
    // the server says where the page is, before its listening line
    const match = /web client on (https?:\/\/[^\s/]+\/)/.exec(server.output())
    if (match === null) return yield* Effect.dieMessage(`no web client address in:\n${server.output()}`)
    return { server, url: match[1]! } satisfies WebServer
  })

/** Chromium, closed with the scope. */
export const launchBrowser: Effect.Effect<Browser, never, Scope.Scope> = Effect.acquireRelease(
  Effect.promise(() => chromium.launch({ executablePath: "/usr/bin/chromium", args: chromiumFlags })),
  (browser) => Effect.promise(() => browser.close())
)

export interface OpenPage {
  readonly context: BrowserContext
  readonly page: Page
  /** Errors the page threw or logged, to assert there were none. */
  readonly errors: Array<string>
}

/** A fresh browser profile (its own localStorage) with the page open. */
export const openPage = (browser: Browser, url: string, viewport = { width: 1100, height: 720 }) =>
  Effect.gen(function*() {
    const context = yield* Effect.acquireRelease(
      Effect.promise(() => browser.newContext({ viewport })),
      (context) => Effect.promise(() => context.close())
    )
    const page = yield* Effect.promise(() => context.newPage())
    const errors: Array<string> = []
    page.on("pageerror", (error) => errors.push(error.message))
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text())
    })
    // the page may ask only the server that served it
    const origin = new URL(url).host
    page.on("request", (request) => {
      const host = new URL(request.url()).host
      if (host !== origin && !request.url().startsWith("data:")) errors.push(`request to elsewhere: ${request.url()}`)
    })
    yield* Effect.promise(() => page.goto(url))
    return { context, page, errors } satisfies OpenPage
  })

export const passwordOf = (user: string) => `password-of-${user}`

/** Registers `user` on the login screen and waits for the chat. */
export const register = (page: Page, user: string) =>
  Effect.promise(async () => {
    await page.getByLabel("Username").fill(user)
    await page.getByLabel("Password").fill(passwordOf(user))
    await page.getByRole("button", { name: "Register" }).click()
    await page.getByLabel(/^Message #general/).waitFor()
  })

/** The composer of the open conversation. */
export const composer = (page: Page) => page.locator("#composer-input")

/** Types `text` and presses Enter. */
export const say = (page: Page, text: string) =>
  Effect.promise(async () => {
    await composer(page).fill(text)
    await composer(page).press("Enter")
  })

const exactly = (text: string) => new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`)

/** The delivered (not pending) messages whose text is exactly `text`. */
export const delivered = (page: Page, text: string) =>
  page.locator("#messages .msg:not(.pending):not(.failed)", { has: page.locator(".text", { hasText: exactly(text) }) })

/** Waits until a delivered message with `text` is shown. */
export const seen = (page: Page, text: string) => Effect.promise(() => delivered(page, text).first().waitFor())

/** Opens a conversation from the sidebar (`#room` or `@person`). */
export const openConversation = (page: Page, label: string) =>
  Effect.promise(async () => {
    await page.locator("#sidebar button.conv", { has: page.locator(".name", { hasText: new RegExp(`^${label}$`) }) })
      .click()
    await page.locator("#conv-title", { hasText: label }).waitFor()
  })

/** Saves a screenshot of the page as it is, as `<name>.png` in the run's screenshot directory. */
export const screenshot = (page: Page, name: string) =>
  Effect.promise(async () => {
    Fs.mkdirSync(screenshotDir, { recursive: true })
    await page.screenshot({ path: Path.join(screenshotDir, `${name}.png`) })
  })

export interface AxeViolation {
  readonly id: string
  readonly impact: string | null
  readonly help: string
  readonly nodes: ReadonlyArray<{ readonly target: ReadonlyArray<string> }>
}

/** The serious and critical violations axe-core (injected from node_modules) finds on the page now. */
export const axeViolations = (page: Page) =>
  Effect.promise(async () => {
    const source = Fs.readFileSync(require.resolve("axe-core/axe.min.js"), "utf8")
    // evaluated over the DevTools protocol: the page's Content-Security-Policy (script-src 'self')
    // rightly refuses an inline script tag
    if (!(await page.evaluate<boolean>("typeof axe === \"object\""))) await page.evaluate(`${source}\n;undefined`)
    const violations = await page.evaluate(async () => {
      const axe = (globalThis as unknown as {
        axe: { run: (context?: unknown) => Promise<{ violations: ReadonlyArray<AxeViolation> }> }
      }).axe
      const result = await axe.run()
      return result.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.map((n) => ({ target: n.target }))
      }))
    })
    return violations.filter((v) => v.impact === "serious" || v.impact === "critical")
  })

/** One line per violation, for an assertion message. */
export const describeViolations = (violations: ReadonlyArray<AxeViolation>) =>
  violations.map((v) => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)
    .join("\n")

/** No serious or critical axe violation on the page as it is now; and a screenshot of it. */
export const checkScreen = (page: Page, name: string) =>
  Effect.gen(function*() {
    yield* screenshot(page, name)
    const violations = yield* axeViolations(page)
    assert.deepStrictEqual(violations.length, 0, `${name}:\n${describeViolations(violations)}`)
  })
