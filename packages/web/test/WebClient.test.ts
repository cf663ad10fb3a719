/**
 * The web client end to end: the page built from the current sources, served by the real server
 * process on its web port, in Debian's Chromium. Two browser users in a room and by DM with
 * receipts, edits and deletes; a browser user and a TCP user; the server killed and restarted
 * under an open page, which reconnects by itself with nothing lost or doubled and a message typed
 * while down sent once; a moderator muting and kicking a browser user; the token kept across a
 * reload and revoked by logging out; history paged in; sessions; an axe-core check and a
 * screenshot of each screen.
 */
import { assert, describe, it } from "@effect/vitest"
import { ChatClient, type ChatEvent, TcpTransport } from "@parley/client"
import type { ServerProcess } from "@parley/testkit"
import { Effect, Queue, Redacted } from "effect"
import {
  builtPage,
  checkScreen,
  composer,
  delivered,
  launchBrowser,
  openConversation,
  openPage,
  passwordOf,
  register,
  say,
  seen,
  startServer
} from "./Browser.ts"

/** A TCP user of the same server, through the client library. */
const tcpUser = (server: ServerProcess, user: string) =>
  Effect.gen(function*() {
    const client = yield* ChatClient.make({
      transport: TcpTransport.make({ host: server.host, port: server.port }),
      username: user,
      password: Redacted.make(passwordOf(user)),
      register: true,
      rooms: true,
      backoff: { base: "100 millis", cap: "1 second" }
    })
    const events = yield* client.subscribe
    yield* client.connect
    return { client, events }
  })

/** Takes events until a MESSAGE with `text` arrives; returns every MESSAGE text taken, that one included. */
const messagesUntil = (events: Queue.Dequeue<ChatEvent>, text: string) =>
  Effect.gen(function*() {
    const texts: Array<string> = []
    while (true) {
      const event = yield* Queue.take(events)
      if (event.type !== "MESSAGE") continue
      texts.push(event.text)
      if (event.text === text) return texts
    }
  }).pipe(Effect.timeoutFail({ duration: "30 seconds", onTimeout: () => new Error(`"${text}" never arrived`) }))

const promise = <A>(f: () => Promise<A>) => Effect.promise(f)

const TIMEOUT = 180_000

// one build of the page for every test here
const built = builtPage()

describe("the web client", () => {
  it.scopedLive(
    "two people chat in a room and by DM, with receipts, edits and deletes; each screen passes axe",
    () =>
      Effect.gen(function*() {
        const dist = yield* built
        const { url } = yield* startServer(dist)
        const browser = yield* launchBrowser
        const alice = yield* openPage(browser, url)
        const bob = yield* openPage(browser, url)

        yield* promise(() => alice.page.getByLabel("Username").waitFor())
        yield* checkScreen(alice.page, "login")
        yield* register(alice.page, "alice")
        yield* register(bob.page, "bob")

        // a public room: alice creates it, bob joins it
        yield* promise(async () => {
          await alice.page.getByLabel("Join or create a room").fill("lobby")
          await alice.page.getByRole("button", { name: "Create" }).click()
          await alice.page.locator("#conv-title", { hasText: "#lobby" }).waitFor()
          await bob.page.getByLabel("Join or create a room").fill("lobby")
          await bob.page.getByRole("button", { name: "Join", exact: true }).click()
          await bob.page.locator("#conv-title", { hasText: "#lobby" }).waitFor()
        })
        yield* say(alice.page, "hello lobby")
        yield* seen(bob.page, "hello lobby")
        yield* say(bob.page, "hi alice, in the lobby")
        yield* seen(alice.page, "hi alice, in the lobby")

        // Up edits alice's last message; bob sees the new text, marked edited
        yield* promise(async () => {
          await composer(alice.page).press("ArrowUp")
          await alice.page.getByLabel(/^Editing your message in #lobby/).waitFor()
          await composer(alice.page).fill("hello lobby, edited")
          await composer(alice.page).press("Enter")
          await delivered(bob.page, "hello lobby, edited").locator(".edited").waitFor()
        })
        // and delete removes it for both
        yield* promise(async () => {
          await delivered(alice.page, "hello lobby, edited").getByRole("button", { name: /^Delete/ }).click()
          await delivered(bob.page, "hello lobby, edited").waitFor({ state: "detached" })
        })

        // a room message while bob looks elsewhere counts as unread
        yield* openConversation(bob.page, "#general")
        yield* say(alice.page, "while you were in general")
        yield* promise(() =>
          bob.page.locator("#room-list button.conv", { hasText: "#lobby" }).locator(".badge", { hasText: "1 unread" })
            .waitFor()
        )
        yield* openConversation(bob.page, "#lobby")
        yield* seen(bob.page, "while you were in general")

        // a DM from the online list; alice sees it unread, reads it, and bob sees the receipt
        yield* promise(() => bob.page.locator("#online-list").getByRole("button", { name: /alice/ }).click())
        yield* promise(() => bob.page.locator("#conv-title", { hasText: "@alice" }).waitFor())
        yield* say(bob.page, "a secret for alice")
        yield* promise(() =>
          alice.page.locator("#dm-list button.conv", { hasText: "@bob" }).locator(".badge", { hasText: "1 unread" })
            .waitFor()
        )
        yield* openConversation(alice.page, "@bob")
        yield* seen(alice.page, "a secret for alice")
        yield* promise(() =>
          delivered(bob.page, "a secret for alice").locator(".receipt", { hasText: "Read by alice" }).waitFor()
        )
        yield* say(alice.page, "a secret back")
        yield* seen(bob.page, "a secret back")
        yield* checkScreen(bob.page, "direct-messages")

        // the other screens: a room with its members, the sessions dialog, Ctrl+K
        yield* openConversation(alice.page, "#lobby")
        yield* promise(async () => {
          await alice.page.getByRole("button", { name: "Members" }).click()
          await alice.page.getByRole("button", { name: "Mute bob", exact: true }).waitFor()
        })
        yield* checkScreen(alice.page, "room")
        yield* promise(async () => {
          await alice.page.getByRole("button", { name: "Sessions" }).click()
          await alice.page.locator("#session-list").getByText("(this page)").waitFor()
        })
        yield* checkScreen(alice.page, "sessions")
        yield* promise(async () => {
          await alice.page.keyboard.press("Escape")
          await composer(alice.page).press("Control+k")
          await alice.page.getByLabel("Go to a room or person").fill("gen")
        })
        yield* checkScreen(alice.page, "switcher")
        yield* promise(async () => {
          await alice.page.getByLabel("Go to a room or person").press("Enter")
          await alice.page.locator("#conv-title", { hasText: "#general" }).waitFor()
        })
        assert.deepStrictEqual([...alice.errors, ...bob.errors], [])
      }),
    TIMEOUT
  )

  it.scopedLive(
    "at phone width (360px) the conversation fills the screen and the list opens over it",
    () =>
      Effect.gen(function*() {
        const dist = yield* built
        const { url } = yield* startServer(dist)
        const browser = yield* launchBrowser
        const phone = yield* openPage(browser, url, { width: 360, height: 740 })
        yield* register(phone.page, "pat")
        yield* say(phone.page, "from a phone")
        yield* seen(phone.page, "from a phone")
        const width = yield* promise(() => phone.page.evaluate<number>("document.documentElement.scrollWidth"))
        assert.isAtMost(width, 360, "nothing wider than the screen")
        yield* checkScreen(phone.page, "phone")
        yield* promise(async () => {
          await phone.page.getByRole("button", { name: "Conversations" }).click()
          await phone.page.locator("#sidebar").getByText("#general").waitFor()
        })
        yield* checkScreen(phone.page, "phone-conversations")
        assert.deepStrictEqual(phone.errors, [])
      }),
    TIMEOUT
  )

  it.scopedLive("a browser user and a TCP user chat in general and by DM", () =>
    Effect.gen(function*() {
      const dist = yield* built
      const { server, url } = yield* startServer(dist)
      const browser = yield* launchBrowser
      const carol = yield* tcpUser(server, "carol")
      const dave = yield* openPage(browser, url)
      yield* register(dave.page, "dave")
      yield* promise(() => dave.page.locator("#online-list").getByRole("button", { name: /carol/ }).waitFor())

      yield* carol.client.send("hello from a terminal")
      yield* seen(dave.page, "hello from a terminal")
      yield* say(dave.page, "hello from a browser")
      const texts = yield* messagesUntil(carol.events, "hello from a browser")
      assert.deepStrictEqual(texts.filter((t) => t === "hello from a browser").length, 1)
      // Shift+Enter adds a line; Enter sends both
      yield* promise(async () => {
        await composer(dave.page).fill("line one")
        await composer(dave.page).press("Shift+Enter")
        await composer(dave.page).pressSequentially("line two")
        await composer(dave.page).press("Enter")
      })
      yield* messagesUntil(carol.events, "line one\nline two")

      yield* carol.client.send("psst, dave", "dave")
      yield* openConversation(dave.page, "@carol")
      yield* seen(dave.page, "psst, dave")
      yield* say(dave.page, "psst back, carol")
      yield* messagesUntil(carol.events, "psst back, carol")
      assert.deepStrictEqual(dave.errors, [])
    }), TIMEOUT)

  it.scopedLive(
    "the server is killed and restarted under an open page: it reconnects by itself, nothing lost or doubled, the message typed while down sent once",
    () =>
      Effect.gen(function*() {
        const dist = yield* built
        const { server, url } = yield* startServer(dist)
        const browser = yield* launchBrowser
        const erin = yield* openPage(browser, url)
        yield* register(erin.page, "erin")
        const frank = yield* tcpUser(server, "frank")
        yield* frank.client.send("before the crash")
        yield* seen(erin.page, "before the crash")

        yield* server.kill
        // the banner says the link is down and counts down to the next attempt
        yield* promise(() => erin.page.locator("#banner", { hasText: /Reconnecting in \d+ s/ }).waitFor())
        yield* say(erin.page, "typed while the server was down")
        yield* promise(() =>
          erin.page.locator("#messages .msg.pending", { hasText: "typed while the server was down" }).waitFor()
        )
        yield* promise(() => erin.page.locator("#banner", { hasText: "1 message waiting to be sent" }).waitFor())
        yield* checkScreen(erin.page, "reconnecting")

        yield* server.restart
        // frank's client reconnects too; what he sends after is shown once
        yield* frank.client.send("after the restart")
        yield* seen(erin.page, "after the restart")
        yield* seen(erin.page, "typed while the server was down")
        yield* promise(() => erin.page.locator("#banner").waitFor({ state: "hidden" }))
        yield* promise(() => erin.page.locator("#messages .msg.pending").waitFor({ state: "detached" }))
        const texts = yield* messagesUntil(frank.events, "typed while the server was down")
        assert.deepStrictEqual(texts.filter((t) => t === "typed while the server was down").length, 1)
        for (const text of ["before the crash", "after the restart", "typed while the server was down"]) {
          assert.strictEqual(yield* promise(() => delivered(erin.page, text).count()), 1, text)
        }
        // stored once
        const history = yield* frank.client.history({ limit: 100 })
        assert.deepStrictEqual(
          history.messages.filter((m) => m.text === "typed while the server was down").length,
          1
        )
        assert.deepStrictEqual(erin.errors.filter((e) => !/WebSocket|ERR_CONNECTION_REFUSED/.test(e)), [])
      }),
    TIMEOUT
  )

  it.scopedLive("a moderator mutes and kicks a browser user, who sees it", () =>
    Effect.gen(function*() {
      const dist = yield* built
      const { url } = yield* startServer(dist)
      const browser = yield* launchBrowser
      const owner = yield* openPage(browser, url)
      const guest = yield* openPage(browser, url)
      yield* register(owner.page, "olga")
      yield* register(guest.page, "gus")
      // a private room: gus gets in by invitation
      yield* promise(async () => {
        await owner.page.getByLabel("Join or create a room").fill("ops")
        await owner.page.getByLabel("Visibility of a new room").selectOption("private")
        await owner.page.getByRole("button", { name: "Create" }).click()
        await owner.page.locator("#conv-title", { hasText: "#ops" }).waitFor()
        await owner.page.getByRole("button", { name: "Members" }).click()
        await owner.page.getByLabel("Invite someone").fill("gus")
        await owner.page.getByRole("button", { name: "Invite", exact: true }).click()
        await guest.page.getByRole("button", { name: "Join #ops" }).click()
        await guest.page.locator("#conv-title", { hasText: "#ops" }).waitFor()
        await owner.page.getByRole("button", { name: "Mute gus", exact: true }).click()
      })
      yield* promise(() => guest.page.locator("#notice", { hasText: "olga muted you in #ops" }).waitFor())
      yield* promise(() => guest.page.getByLabel("Message #ops (you are muted here until lifted)").waitFor())
      yield* say(guest.page, "can I still talk?")
      yield* promise(() =>
        guest.page.locator("#messages .msg.failed", { hasText: "can I still talk?" }).locator(".state", {
          hasText: /not sent: .*muted/
        }).waitFor()
      )
      yield* checkScreen(guest.page, "muted")
      yield* promise(() => owner.page.getByRole("button", { name: "Kick gus", exact: true }).click())
      yield* promise(() => guest.page.locator("#notice", { hasText: "olga removed you from #ops" }).waitFor())
      yield* promise(() =>
        guest.page.locator("#room-list button.conv", { hasText: "#ops" }).waitFor({ state: "detached" })
      )
      yield* promise(() => guest.page.locator("#conv-title", { hasText: "#general" }).waitFor())
      assert.deepStrictEqual([...owner.errors, ...guest.errors], [])
    }), TIMEOUT)

  it.scopedLive(
    "Sessions lists where you are logged in; revoking one logs that page out, saying why",
    () =>
      Effect.gen(function*() {
        const dist = yield* built
        const { url } = yield* startServer(dist)
        const browser = yield* launchBrowser
        const laptop = yield* openPage(browser, url)
        const phone = yield* openPage(browser, url)
        yield* register(laptop.page, "joan")
        yield* promise(async () => {
          await phone.page.getByLabel("Username").fill("joan")
          await phone.page.getByLabel("Password").fill(passwordOf("joan"))
          await phone.page.getByRole("button", { name: "Log in" }).click()
          await phone.page.getByLabel(/^Message #general/).waitFor()
          await laptop.page.getByRole("button", { name: "Sessions" }).click()
          await laptop.page.locator("#session-list").getByText("(this page)").waitFor()
          await laptop.page.locator("#session-list").getByRole("button", { name: /^Revoke session/ }).click()
          await phone.page.locator("#login-error", { hasText: "revoked" }).waitFor()
          // the laptop's list now holds only itself
          await laptop.page.locator("#session-list li").filter({ hasText: "Revoke" }).waitFor({ state: "detached" })
        })
        assert.deepStrictEqual([...laptop.errors, ...phone.errors], [])
      }),
    TIMEOUT
  )

  it.scopedLive(
    "a reload keeps the login; log out revokes the session's token; history pages in as you scroll back",
    () =>
      Effect.gen(function*() {
        const dist = yield* built
        const { server, url } = yield* startServer(dist)
        const browser = yield* launchBrowser
        const hank = yield* tcpUser(server, "hank")
        // queued at once, ACKed in order
        const acks = []
        for (let i = 1; i <= 120; i++) acks.push(yield* hank.client.enqueue(`old message ${i}`))
        yield* Effect.all(acks)
        const ivy = yield* openPage(browser, url)
        yield* register(ivy.page, "ivy")
        // the newest page, then older ones as the list is scrolled to the top
        yield* seen(ivy.page, "old message 120")
        assert.strictEqual(yield* promise(() => delivered(ivy.page, "old message 1").count()), 0)
        yield* promise(async () => {
          for (let i = 0; i < 10 && (await delivered(ivy.page, "old message 1").count()) === 0; i++) {
            const shown = await ivy.page.locator("#messages .msg").count()
            await ivy.page.locator("#scroller").evaluate((el) => el.scrollTo(0, 0))
            // a page more arrived, or there is none
            await ivy.page.waitForFunction((before) => {
              const { document } = globalThis as unknown as {
                document: {
                  querySelectorAll: (s: string) => { length: number }
                  getElementById: (id: string) => { hidden: boolean } | null
                }
              }
              return document.querySelectorAll("#messages .msg").length > before ||
                document.getElementById("older-button")?.hidden === true
            }, shown)
          }
        })
        yield* seen(ivy.page, "old message 1")
        const shown = yield* promise(() => ivy.page.locator("#messages .msg .text").allTextContents())
        const olds = shown.filter((t) => t.startsWith("old message "))
        assert.strictEqual(olds.length, 120, "each of the 120 once")
        assert.strictEqual(new Set(olds).size, 120)

        // a reload does not ask again
        yield* promise(async () => {
          await ivy.page.reload()
          await ivy.page.getByLabel(/^Message #general/).waitFor()
        })
        const token = yield* promise(() =>
          ivy.page.evaluate<string | undefined>(`JSON.parse(localStorage.getItem("parley.login") ?? "{}").token`)
        )
        assert.isString(token)
        // log out: back to the login screen, and the token no longer logs in
        yield* promise(async () => {
          await ivy.page.getByRole("button", { name: "Log out" }).click()
          await ivy.page.getByLabel("Password").waitFor()
          await ivy.page.reload()
          await ivy.page.getByLabel("Password").waitFor()
        })
        const reuse = yield* Effect.scoped(Effect.gen(function*() {
          const again = yield* ChatClient.make({
            transport: TcpTransport.make({ host: server.host, port: server.port }),
            username: "ivy",
            token
          })
          return yield* Effect.either(again.connect)
        }))
        assert.isTrue(reuse._tag === "Left" && reuse.left._tag === "LoginRejected", "the revoked token is refused")
        assert.deepStrictEqual(ivy.errors, [])
      }),
    TIMEOUT
  )
})
