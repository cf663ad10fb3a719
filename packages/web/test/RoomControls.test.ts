/**
 * The room controls of the web client end to end, three people in three browser profiles on the
 * real server (one of them at phone width): an owner sets the topic, makes a member moderator (who
 * then sees a moderator's controls) and mutes them, bans a third user, and lifts the ban and the
 * mute from the audit log, where every one of those actions is listed; the third user gets back in, then leaves; the owner is told
 * the server's refusal to let the last owner leave, then deletes the room after a confirmation, and
 * it disappears for the others. The new dialogs pass axe, with a screenshot of each.
 */
import { assert, describe, it } from "@effect/vitest"
import { runServerCommand } from "@parley/testkit"
import { Effect } from "effect"
import type { Page } from "playwright-core"
import { builtPage, checkScreen, launchBrowser, openPage, register, startServer } from "./Browser.ts"

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

const TIMEOUT = 180_000

const built = builtPage()

/** Joins `room` from the sidebar's form (opening the list first at phone width). */
const joinRoom = (page: Page, room: string, phone = false) =>
  promise(async () => {
    if (phone) await page.getByRole("button", { name: "Conversations" }).click()
    await page.getByLabel("Join or create a room").fill(room)
    await page.getByRole("button", { name: "Join", exact: true }).click()
  })

/** Creates `room` from the sidebar's form and waits until it is the open conversation. */
const createRoom = (page: Page, room: string) =>
  promise(async () => {
    await page.getByLabel("Join or create a room").fill(room)
    await page.getByRole("button", { name: "Create" }).click()
    await page.locator("#conv-title", { hasText: `#${room}` }).waitFor()
  })

const roomInList = (page: Page, room: string) => page.locator("#room-list button.conv", { hasText: `#${room}` })

const notice = (page: Page, text: string | RegExp) => page.locator("#notice", { hasText: text })

/** The audit log's row of `action` on `target`. */
const auditRow = (page: Page, action: string, target: string) =>
  page.locator(`#audit-rows tr[data-action="${action}"]`, {
    has: page.locator("td.target", { hasText: new RegExp(`^${target}$`) })
  })

describe("the web client's room controls", () => {
  it.scopedLive(
    "an owner sets the topic, makes a moderator, lifts a ban and a mute from the audit log, and deletes the room",
    () =>
      Effect.gen(function*() {
        const dist = yield* built
        const { url } = yield* startServer(dist)
        const browser = yield* launchBrowser
        const olive = yield* openPage(browser, url)
        const mo = yield* openPage(browser, url, { width: 360, height: 740 })
        const tess = yield* openPage(browser, url)
        yield* register(olive.page, "olive")
        yield* register(mo.page, "moss")
        yield* register(tess.page, "tess")

        yield* createRoom(olive.page, "plaza")
        yield* joinRoom(tess.page, "plaza")
        yield* joinRoom(mo.page, "plaza", true)
        yield* promise(() => mo.page.locator("#conv-title", { hasText: "#plaza" }).waitFor())

        // a member may only leave; the owner has every control
        yield* promise(() => mo.page.getByRole("button", { name: "Leave room" }).waitFor())
        for (const name of ["Set topic", "Audit log", "Delete room"]) {
          assert.strictEqual(yield* promise(() => mo.page.getByRole("button", { name }).count()), 0, name)
        }
        yield* promise(() => olive.page.getByRole("button", { name: "Delete room" }).waitFor())

        // the topic, set in its dialog, shows in everyone's header
        yield* promise(async () => {
          await olive.page.getByRole("button", { name: "Set topic" }).click()
          await olive.page.getByLabel(/^Topic of #plaza/).fill("plans for the week")
        })
        yield* checkScreen(olive.page, "topic-dialog")
        yield* promise(async () => {
          await olive.page.getByRole("button", { name: "Save topic" }).click()
          await olive.page.locator("#topic-dialog").waitFor({ state: "hidden" })
          await olive.page.locator("#conv-topic", { hasText: "plans for the week" }).waitFor()
          await mo.page.locator("#conv-topic", { hasText: "plans for the week" }).waitFor()
          await tess.page.locator("#conv-topic", { hasText: "plans for the week" }).waitFor()
        })

        // mo made moderator: told so, and given a moderator's controls (not an owner's)
        yield* promise(async () => {
          await olive.page.getByRole("button", { name: "Members" }).click()
          await olive.page.getByRole("button", { name: "Make moss moderator", exact: true }).click()
          await olive.page.locator(".member-list li", { has: olive.page.locator(".who", { hasText: /^moss$/ }) })
            .locator(".role", { hasText: /^moderator/ }).waitFor()
          await notice(mo.page, "olive made you moderator of #plaza").waitFor()
          await mo.page.getByRole("button", { name: "Set topic" }).waitFor()
          await mo.page.getByRole("button", { name: "Audit log" }).waitFor()
        })
        assert.strictEqual(yield* promise(() => mo.page.getByRole("button", { name: "Delete room" }).count()), 0)
        yield* checkScreen(mo.page, "moderator-controls-phone")

        // an owner may mute a moderator; the mute is lifted from the audit log below
        yield* promise(async () => {
          await olive.page.getByRole("button", { name: "Mute moss", exact: true }).click()
          await mo.page.getByLabel("Message #plaza (you are muted here until lifted)").waitFor()
        })

        // tess banned: put out, and kept out
        yield* promise(async () => {
          await olive.page.getByRole("button", { name: "Ban tess", exact: true }).click()
          await notice(tess.page, "olive banned you from #plaza").waitFor()
          await roomInList(tess.page, "plaza").waitFor({ state: "detached" })
        })
        yield* joinRoom(tess.page, "plaza")
        yield* promise(() => notice(tess.page, /^Join #plaza: .*banned/).waitFor())

        // the audit log lists the topic, the role and the ban, and the ban as in force
        yield* promise(async () => {
          await olive.page.getByRole("button", { name: "Audit log" }).click()
          await auditRow(olive.page, "ban", "tess").waitFor()
        })
        const row = (action: string, target: string) =>
          promise(() => auditRow(olive.page, action, target).locator("td").allTextContents())
        const topicRow = yield* row("topic", "plans for the week")
        const roleRow = yield* row("role", "moss")
        const banRow = yield* row("ban", "tess")
        assert.deepStrictEqual(topicRow.slice(1, 4), ["olive", "topic", "plans for the week"])
        assert.deepStrictEqual(roleRow.slice(1, 5), ["olive", "role", "moss", "made moderator"])
        assert.deepStrictEqual(banRow.slice(1, 6), ["olive", "ban", "tess", "", "until lifted"])
        assert.isNotEmpty(banRow[0], "when")
        const order = yield* promise(() =>
          olive.page.locator("#audit-rows tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-action")))
        )
        assert.deepStrictEqual(order, ["ban", "mute", "role", "topic"], "newest first")
        yield* promise(async () => {
          await olive.page.locator(".sanction-list li", { hasText: "tess: banned by olive until lifted" }).waitFor()
          await olive.page.locator(".sanction-list li", { hasText: "moss: muted by olive until lifted" }).waitFor()
        })
        yield* checkScreen(olive.page, "audit-log")

        // the new moderator reads it too, on a phone, without the page growing sideways
        yield* promise(async () => {
          await mo.page.getByRole("button", { name: "Audit log" }).click()
          await auditRow(mo.page, "ban", "tess").waitFor()
        })
        const width = yield* promise(() => mo.page.evaluate<number>("document.documentElement.scrollWidth"))
        assert.isAtMost(width, 360, "nothing wider than the screen")
        yield* checkScreen(mo.page, "audit-log-phone")
        yield* promise(async () => {
          await mo.page.keyboard.press("Escape")
          await mo.page.locator("#audit-dialog").waitFor({ state: "hidden" })
        })

        // the ban and the mute lifted from the log: they show there, moss may talk again, tess gets back in
        yield* promise(async () => {
          await olive.page.getByRole("button", { name: "Lift ban on tess" }).click()
          await auditRow(olive.page, "unban", "tess").waitFor()
          await olive.page.locator(".sanction-list li", { hasText: "tess" }).waitFor({ state: "detached" })
          await olive.page.locator("#audit-dialog").getByRole("button", { name: "Unmute moss" }).click()
          await auditRow(olive.page, "unmute", "moss").waitFor()
          await olive.page.locator(".in-force", { hasText: "None." }).waitFor()
          await mo.page.getByLabel("Message #plaza", { exact: true }).waitFor()
          await olive.page.keyboard.press("Escape")
          await olive.page.locator("#audit-dialog").waitFor({ state: "hidden" })
        })
        yield* joinRoom(tess.page, "plaza")
        yield* promise(() => tess.page.locator("#conv-title", { hasText: "#plaza" }).waitFor())

        // tess leaves; the others see it
        yield* promise(async () => {
          await tess.page.getByRole("button", { name: "Leave room" }).click()
          await notice(tess.page, "You left #plaza").waitFor()
          await roomInList(tess.page, "plaza").waitFor({ state: "detached" })
          await tess.page.locator("#conv-title", { hasText: "#general" }).waitFor()
          await olive.page.locator("#messages .note", { hasText: "tess left" }).waitFor()
        })

        // the last owner may not leave while others are in: the server's refusal, in one line
        yield* promise(async () => {
          await olive.page.getByRole("button", { name: "Leave room" }).click()
          await notice(olive.page, /^Leave #plaza: FORBIDDEN: make someone else owner before you leave/).waitFor()
        })
        assert.strictEqual(yield* promise(() => roomInList(olive.page, "plaza").count()), 1)

        // delete, after a confirmation (Escape says no)
        yield* promise(async () => {
          await olive.page.getByRole("button", { name: "Delete room" }).click()
          await olive.page.getByRole("alertdialog", { name: "Delete #plaza?" }).waitFor()
        })
        yield* checkScreen(olive.page, "confirm-delete")
        yield* promise(async () => {
          await olive.page.keyboard.press("Escape")
          await olive.page.locator("#confirm-dialog").waitFor({ state: "hidden" })
        })
        assert.strictEqual(yield* promise(() => roomInList(olive.page, "plaza").count()), 1, "still there")
        yield* promise(async () => {
          await olive.page.getByRole("button", { name: "Delete room" }).click()
          await olive.page.getByRole("button", { name: "Delete #plaza" }).click()
          await notice(olive.page, "You deleted the room #plaza").waitFor()
          await roomInList(olive.page, "plaza").waitFor({ state: "detached" })
          await olive.page.locator("#conv-title", { hasText: "#general" }).waitFor()
          await notice(mo.page, "olive deleted the room #plaza").waitFor()
          await roomInList(mo.page, "plaza").waitFor({ state: "detached" })
          await mo.page.locator("#conv-title", { hasText: "#general" }).waitFor()
        })
        // and none of the room's controls remain in general for a member
        assert.strictEqual(yield* promise(() => mo.page.getByRole("button", { name: "Leave room" }).count()), 0)
        assert.deepStrictEqual([...olive.errors, ...mo.errors, ...tess.errors], [])
      }),
    TIMEOUT
  )

  it.scopedLive(
    "a server admin gets an owner's controls in a room they do not own, gives general's roles, and deletes the room",
    () =>
      Effect.gen(function*() {
        const dist = yield* built
        const { server, url } = yield* startServer(dist)
        const browser = yield* launchBrowser
        const owen = yield* openPage(browser, url)
        const ada = yield* openPage(browser, url)
        yield* register(owen.page, "owen")
        yield* register(ada.page, "ada")
        yield* createRoom(owen.page, "den")
        yield* joinRoom(ada.page, "den")
        yield* promise(() => ada.page.locator("#conv-title", { hasText: "#den" }).waitFor())
        yield* promise(() => ada.page.getByRole("button", { name: "Leave room" }).waitFor())
        assert.strictEqual(yield* promise(() => ada.page.getByRole("button", { name: "Delete room" }).count()), 0)

        // the operator makes ada an admin; her next login (a reload, by token) says so
        const granted = yield* runServerCommand(["admin", "grant", "ada", "--db", server.db])
        assert.strictEqual(granted.code, 0, granted.output)
        yield* promise(async () => {
          await ada.page.reload()
          await roomInList(ada.page, "den").click()
          await ada.page.locator("#conv-title", { hasText: "#den" }).waitFor()
          for (const name of ["Set topic", "Audit log", "Delete room"]) {
            await ada.page.getByRole("button", { name }).waitFor()
          }
        })
        yield* checkScreen(ada.page, "admin-room")

        // in general, where only admins give roles: moderator or member, never owner
        yield* promise(async () => {
          await roomInList(ada.page, "general").click()
          await ada.page.getByRole("button", { name: "Members" }).click()
          await ada.page.getByRole("button", { name: "Make owen moderator" }).click()
          await notice(ada.page, "owen is now moderator of #general").waitFor()
        })
        assert.strictEqual(yield* promise(() => ada.page.getByRole("button", { name: "Make owen owner" }).count()), 0)

        // and she deletes owen's room
        yield* promise(async () => {
          await roomInList(ada.page, "den").click()
          await ada.page.getByRole("button", { name: "Delete room" }).click()
          await ada.page.getByRole("button", { name: "Delete #den" }).click()
          await notice(ada.page, "You deleted the room #den").waitFor()
          await roomInList(owen.page, "den").waitFor({ state: "detached" })
        })
        assert.deepStrictEqual([...owen.errors, ...ada.errors], [])
      }),
    TIMEOUT
  )
})
