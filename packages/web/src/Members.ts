/**
 * A room's Members panel: who is in it, their roles and who is online, and the moderation buttons
 * your role allows on each (mute, unmute, kick, ban; in `general` only mute and unmute, since
 * nobody can be put out of it), and for an owner the role buttons (make owner, moderator or
 * member: ROLE, by which an owner also hands the room over). A server admin gets both on everyone
 * else in every room (in `general`: moderator or member). The server decides in the end; the
 * buttons only leave out what it would refuse anyway.
 */
import type { ChatClient } from "@parley/client/browser"
import type { Effect } from "effect"
import { fill, h } from "./Dom.ts"
import { type Conversation, mayModerate, type Role } from "./Model.ts"

const roles: ReadonlyArray<Role> = ["owner", "moderator", "member"]

/** What the panel needs from the screen. */
export interface MembersContext {
  readonly el: HTMLElement
  readonly me: string
  /** You are a server admin: you may moderate anyone but other admins and give any role. */
  readonly admin: boolean
  readonly client: ChatClient.Service
  readonly run: <A, E>(effect: Effect.Effect<A, E>) => Promise<A>
  /** Runs a moderation action, saying what happened (or why not) in the notice line. */
  readonly act: (what: string, effect: Effect.Effect<unknown, unknown>, done: string) => Promise<void>
}

/** Loads `conv`'s members and shows them; again after each action. */
export const showMembers = async (ctx: MembersContext, conv: Conversation): Promise<void> => {
  const { client, el } = ctx
  const room = conv.name
  const button = (text: string, effect: () => Effect.Effect<unknown, unknown>, done: string) =>
    h("button", {
      type: "button",
      class: "small secondary",
      onclick: () => void ctx.act(text, effect(), done).then(() => showMembers(ctx, conv))
    }, text)
  try {
    const list = await ctx.run(client.members(room))
    const me = ctx.me.toLowerCase()
    const mine = list.members.find((m) => m.user.toLowerCase() === me)?.role ?? conv.role
    const general = conv.key === "room:general"
    // in a private room moderators and owners invite; in a public one any member may (a notice)
    const mayInvite = !general &&
      (conv.visibility !== "private" || ctx.admin || mine === "owner" || mine === "moderator")
    const invitee = h("input", { id: "invite-name", autocomplete: "off", autocapitalize: "off", spellcheck: false })
    fill(
      el,
      h("h3", {}, `Members of #${room} (${list.total})`),
      mayInvite
        ? h(
          "form",
          {
            class: "invite row",
            onsubmit: (e: Event) => {
              e.preventDefault()
              const user = invitee.value.trim()
              if (user === "") return
              void ctx.act(`Invite ${user}`, client.invite(room, user), `${user} is invited to #${room}`)
                .then(() => showMembers(ctx, conv))
            }
          },
          h("label", { for: "invite-name" }, "Invite someone"),
          invitee,
          h("button", { type: "submit", class: "small" }, "Invite")
        )
        : null,
      h(
        "ul",
        { class: "member-list" },
        list.members.map((m) => {
          const self = m.user.toLowerCase() === me
          const actions = !self && (ctx.admin || mayModerate(mine, m.role as Role))
          // in general roles are for server admins to give, and it has no owners
          const roleActions = !self && (ctx.admin || (!general && mine === "owner"))
          return h(
            "li",
            {},
            h("span", { class: m.online ? "dot on" : "dot", "aria-hidden": "true" }),
            h("span", { class: "who" }, m.user),
            h("span", { class: "role" }, m.role + (m.online ? ", online" : "")),
            actions
              ? h(
                "span",
                { class: "mod" },
                button(`Mute ${m.user}`, () => client.mute(room, m.user), `${m.user} is muted in #${room}`),
                button(`Unmute ${m.user}`, () => client.unmute(room, m.user), `${m.user} is unmuted in #${room}`),
                general
                  ? null
                  : button(`Kick ${m.user}`, () => client.kick(room, m.user), `${m.user} was removed from #${room}`),
                general
                  ? null
                  : button(`Ban ${m.user}`, () => client.ban(room, m.user), `${m.user} is banned from #${room}`)
              )
              : null,
            roleActions
              ? h(
                "span",
                { class: "mod" },
                roles.filter((r) => r !== m.role && !(general && r === "owner")).map((r) =>
                  button(
                    `Make ${m.user} ${r}`,
                    () => client.setRole(room, m.user, r),
                    `${m.user} is now ${r} of #${room}`
                  )
                )
              )
              : null
          )
        })
      )
    )
  } catch (error) {
    fill(el, h("p", { class: "error" }, (error as Error).message))
  }
}
