/**
 * The Audit log dialog of a room, for its moderators and owners: the bans and mutes in force, each
 * with a button that lifts it (UNBAN, UNMUTE), a form to lift a ban by name (one older than the
 * pages read here), and the log itself, newest first (who, what, on whom, why, until when, when),
 * with older pages on demand. The protocol lists no bans, so those in force are read from the
 * log (see `Sanctions.ts`); that is why several pages are read before the first render.
 */
import type { ChatClient } from "@parley/client/browser"
import type { Effect } from "effect"
import { byId, fill, h } from "./Dom.ts"
import type { Conversation } from "./Model.ts"
import { type AuditEntry, inForce, type Sanction } from "./Sanctions.ts"

/** What the dialog needs from the screen. */
export interface AuditContext {
  readonly client: ChatClient.Service
  readonly run: <A, E>(effect: Effect.Effect<A, E>) => Promise<A>
}

const PAGE = 100
/** Pages read at opening: 500 entries reach back far enough for the sanctions of most rooms. */
const FIRST_PAGES = 5

const when = (timestamp: string) => new Date(timestamp).toLocaleString()

const expiry = (expiresAt: string | null, action: AuditEntry["action"]) =>
  expiresAt !== null ? when(expiresAt) : action === "ban" || action === "mute" ? "until lifted" : ""

/** `reason` holds the role given for `role` entries. */
const reasonOf = (entry: AuditEntry) => entry.action === "role" ? `made ${entry.reason ?? "?"}` : entry.reason ?? ""

/** Opens the dialog for `conv` (or reloads it) and reads the log anew. */
export const showAudit = async (ctx: AuditContext, conv: Conversation): Promise<void> => {
  const dialog = byId<HTMLDialogElement>("audit-dialog")
  const body = byId("audit-body")
  const error = byId("audit-error")
  const room = conv.name
  const general = conv.key === "room:general"
  byId("audit-title").textContent = `Audit log of #${room}`
  error.textContent = ""
  if (!dialog.open) {
    fill(body, h("p", { class: "status" }, "Loading…"))
    dialog.showModal()
  }
  const entries: Array<AuditEntry> = []
  let hasMore = true
  const readPage = async () => {
    const page = await ctx.run(ctx.client.audit(room, { before: entries.at(-1)?.id, limit: PAGE }))
    entries.push(...page.entries)
    hasMore = page.has_more
  }
  const lift = async (what: string, effect: Effect.Effect<unknown, unknown>) => {
    try {
      await ctx.run(effect)
      await showAudit(ctx, conv)
      // the button pressed is gone with the old list: go on from the next one
      const next = body.querySelector<HTMLElement>(".sanction-list button") ?? byId("audit-close")
      next.focus()
    } catch (e) {
      error.textContent = `${what}: ${(e as Error).message}`
    }
  }

  const sanctionItem = (s: Sanction) =>
    h(
      "li",
      {},
      h(
        "span",
        {},
        `${s.user}: ${s.kind === "ban" ? "banned" : "muted"} by ${s.by} ${
          s.expiresAt === null ? "until lifted" : `until ${when(s.expiresAt)}`
        }${s.reason ? ` (${s.reason})` : ""}`
      ),
      h("button", {
        type: "button",
        class: "small",
        onclick: () =>
          void (s.kind === "ban"
            ? lift(`Unban ${s.user}`, ctx.client.unban(room, s.user))
            : lift(`Unmute ${s.user}`, ctx.client.unmute(room, s.user)))
      }, s.kind === "ban" ? `Lift ban on ${s.user}` : `Unmute ${s.user}`)
    )

  const render = () => {
    const sanctions = inForce(entries, Date.now())
    const unbanName = h("input", { id: "unban-name", autocomplete: "off", autocapitalize: "off", spellcheck: false })
    const older = h("button", {
      type: "button",
      class: "secondary small",
      onclick: async () => {
        older.disabled = true
        try {
          await readPage()
          render()
          body.querySelector<HTMLElement>("#audit-rows tr:last-child")?.focus()
        } catch (e) {
          error.textContent = (e as Error).message
          older.disabled = false
        }
      }
    }, "Load older entries")
    fill(
      body,
      h(
        "section",
        { "aria-labelledby": "in-force-title", class: "in-force" },
        h("h3", { id: "in-force-title" }, "Bans and mutes in force"),
        sanctions.length === 0
          ? h("p", { class: "status" }, hasMore ? "None in the entries read." : "None.")
          : h("ul", { class: "sanction-list" }, sanctions.map(sanctionItem)),
        // nobody is put out of general (BAN and UNBAN there are FORBIDDEN)
        general ? null : h(
          "form",
          {
            class: "row unban",
            onsubmit: (e: Event) => {
              e.preventDefault()
              const user = unbanName.value.trim()
              if (user !== "") void lift(`Unban ${user}`, ctx.client.unban(room, user))
            }
          },
          h("label", { for: "unban-name" }, "Lift a ban on"),
          unbanName,
          h("button", { type: "submit", class: "small" }, "Unban")
        )
      ),
      h(
        "div",
        { class: "audit-scroll", role: "region", "aria-labelledby": "audit-caption", tabindex: "0" },
        h(
          "table",
          { class: "audit-table" },
          h("caption", { id: "audit-caption" }, `Actions in #${room}, newest first`),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["When", "Who", "Action", "Target", "Reason", "Expires"].map((t) => h("th", { scope: "col" }, t))
            )
          ),
          h(
            "tbody",
            { id: "audit-rows" },
            entries.length === 0
              ? h("tr", {}, h("td", { colspan: "6" }, "Nothing yet."))
              : entries.map((e) =>
                h(
                  "tr",
                  { "data-action": e.action, tabindex: "-1" },
                  h("td", {}, when(e.timestamp)),
                  h("td", {}, e.actor),
                  h("td", {}, e.action),
                  h("td", { class: "target" }, e.target),
                  h("td", {}, reasonOf(e)),
                  h("td", {}, expiry(e.expires_at, e.action))
                )
              )
          )
        )
      ),
      hasMore ? older : null
    )
  }

  try {
    for (let i = 0; i < FIRST_PAGES && hasMore; i++) await readPage()
    render()
  } catch (e) {
    fill(body)
    error.textContent = (e as Error).message
  }
}
