/**
 * The sidebar: your rooms and DMs (each with its unread count, the open one marked current) and
 * who is online (a name opens a DM with them), and on a narrow screen the button that slides it
 * in and out. It only reads the model; the chat screen (`App.ts`) redraws it when the model
 * changes and opens what is picked.
 */
import { byId, fill, h } from "./Dom.ts"
import { type Conversation, label, type Model } from "./Model.ts"

export class Sidebar {
  private readonly el = byId("sidebar")
  private readonly roomList = byId("room-list")
  private readonly dmList = byId("dm-list")
  private readonly onlineList = byId("online-list")
  private readonly navToggle = byId<HTMLButtonElement>("nav-toggle")

  /** `go` opens the conversation with that key and focuses the composer. */
  constructor(private readonly model: Model, private readonly go: (key: string) => void) {
    const { navToggle } = this
    navToggle.addEventListener("click", () => {
      const open = document.body.classList.toggle("nav-open")
      navToggle.setAttribute("aria-expanded", String(open))
      if (open) this.el.querySelector<HTMLElement>("button.conv")?.focus()
    })
  }

  /** Slides the sidebar away on a narrow screen (a conversation was picked). */
  closeNav() {
    document.body.classList.remove("nav-open")
    this.navToggle.setAttribute("aria-expanded", "false")
  }

  /** The rooms and DMs. */
  render() {
    fill(this.roomList, this.model.rooms().map((c) => this.convItem(c)))
    const dms = this.model.dms()
    fill(
      this.dmList,
      dms.length === 0
        ? h("li", { class: "empty" }, "None yet: pick someone online.")
        : dms.map((c) => this.convItem(c))
    )
  }

  /** Who is online. */
  renderOnline() {
    const me = this.model.me.toLowerCase()
    fill(
      this.onlineList,
      this.model.online.map((name) =>
        h(
          "li",
          {},
          name.toLowerCase() === me
            ? h("span", { class: "self" }, `${name} (you)`)
            : h(
              "button",
              {
                type: "button",
                class: "link",
                onclick: () => this.go(this.model.dm(name).key)
              },
              h("span", { class: "dot on", "aria-hidden": "true" }),
              name,
              h("span", { class: "visually-hidden" }, ": send a direct message")
            )
        )
      )
    )
  }

  private convItem(conv: Conversation) {
    const active = conv.key === this.model.active
    return h(
      "li",
      {},
      h(
        "button",
        {
          type: "button",
          class: active ? "conv active" : "conv",
          "aria-current": active ? "page" : undefined,
          "data-key": conv.key,
          onclick: () => this.go(conv.key)
        },
        h("span", { class: "name" }, label(conv)),
        conv.unread > 0
          ? h("span", { class: "badge" }, h("span", { class: "visually-hidden" }, ", "), `${conv.unread} unread`)
          : null
      )
    )
  }
}
