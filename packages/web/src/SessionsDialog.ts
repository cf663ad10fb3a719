/**
 * The Sessions dialog: where you are logged in (this page marked), each other session with a
 * Revoke button, which ends it and stops its token at once (REVOKE).
 */
import type { ChatClient } from "@parley/client/browser"
import type { Effect } from "effect"
import { byId, fill, h } from "./Dom.ts"

/** Opens the dialog (if not open) and lists the sessions anew. */
export const showSessions = async (
  client: ChatClient.Service,
  run: <A, E>(effect: Effect.Effect<A, E>) => Promise<A>
): Promise<void> => {
  const dialog = byId<HTMLDialogElement>("sessions")
  const list = byId("session-list")
  const error = byId("sessions-error")
  error.textContent = ""
  fill(list, h("li", {}, "Loading…"))
  if (!dialog.open) dialog.showModal()
  try {
    const sessions = await run(client.sessions)
    fill(
      list,
      sessions.map((s) =>
        h(
          "li",
          {},
          h(
            "span",
            {},
            `Session ${s.session_id} from ${s.ip_address}, since ${new Date(s.connect_time).toLocaleString()}`
          ),
          s.current
            ? h("strong", {}, " (this page)")
            : h("button", {
              type: "button",
              class: "small",
              onclick: async () => {
                try {
                  await run(client.revoke(s.session_id))
                  await showSessions(client, run)
                } catch (e) {
                  error.textContent = (e as Error).message
                }
              }
            }, `Revoke session ${s.session_id}`)
        )
      )
    )
  } catch (e) {
    error.textContent = (e as Error).message
  }
}
