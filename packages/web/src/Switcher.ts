/**
 * Ctrl+K (⌘K): a dialog to go to any room or person by typing part of the name. Enter takes the
 * first match, Down moves into the list, Escape closes it and puts focus back in the composer.
 */
import { byId, fill, h } from "./Dom.ts"

/** Somewhere to go: its label (`#room` or `@person`) and what going there does. */
export interface Destination {
  readonly text: string
  readonly go: () => void
}

export class Switcher {
  private readonly dialog = byId<HTMLDialogElement>("switcher")
  private readonly input = byId<HTMLInputElement>("switcher-input")
  private readonly list = byId("switcher-list")

  constructor(private readonly destinations: () => ReadonlyArray<Destination>, onClose: () => void) {
    this.input.addEventListener("input", () => this.render())
    this.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault()
        this.list.querySelector<HTMLButtonElement>("button")?.click()
      } else if (e.key === "ArrowDown") {
        e.preventDefault()
        this.list.querySelector<HTMLButtonElement>("button")?.focus()
      }
    })
    this.dialog.addEventListener("close", onClose)
  }

  open() {
    this.input.value = ""
    this.render()
    if (!this.dialog.open) this.dialog.showModal()
    this.input.focus()
  }

  private render() {
    const query = this.input.value.trim().toLowerCase().replace(/^[#@]/, "")
    const matches = this.destinations().filter((d) => d.text.slice(1).toLowerCase().includes(query)).slice(0, 12)
    fill(
      this.list,
      matches.length === 0
        ? h("li", { class: "empty" }, "No match")
        : matches.map((d) =>
          h(
            "li",
            {},
            h("button", {
              type: "button",
              class: "conv",
              onclick: () => {
                this.dialog.close()
                d.go()
              }
            }, d.text)
          )
        )
    )
  }
}
