/**
 * A few lines of DOM building instead of a UI framework: `h(tag, props, ...children)` makes an
 * element. The page has a handful of views that update in place (see `View.ts`), so a framework's
 * runtime and build plugins would buy little and cost a dependency to audit.
 */
type Child = Node | string | null | undefined | false

/** Properties: `class`, `on*` handlers, `aria-*`/`data-*` and other attributes, DOM properties. */
export type Props = Readonly<Record<string, unknown>>

export const h = <K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: ReadonlyArray<Child | ReadonlyArray<Child>>
): HTMLElementTagNameMap[K] => {
  const el = document.createElement(tag)
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value as EventListener)
    } else if (key === "class") {
      el.className = String(value)
    } else if (key in el && !key.includes("-")) {
      ;(el as unknown as Record<string, unknown>)[key] = value
    } else {
      el.setAttribute(key, value === true ? "" : String(value))
    }
  }
  append(el, children)
  return el
}

const append = (el: Element, children: ReadonlyArray<Child | ReadonlyArray<Child>>) => {
  for (const child of children) {
    if (Array.isArray(child)) append(el, child)
    else if (child !== null && child !== undefined && child !== false) {
      el.append(typeof child === "string" ? document.createTextNode(child) : (child as Node))
    }
  }
}

/** Replaces an element's children. */
export const fill = (el: Element, ...children: ReadonlyArray<Child | ReadonlyArray<Child>>) => {
  el.replaceChildren()
  append(el, children)
}

/** The element with `id`, which the page's HTML must have. */
export const byId = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id)
  if (el === null) throw new Error(`the page has no #${id}`)
  return el as T
}
