/**
 * The page's entry: the login screen, or straight to the chat when a token from an earlier
 * login is in localStorage (a reload does not ask again); back to the login screen, saying why,
 * when the session ends for good (logged out, revoked elsewhere, the token refused).
 */
import { App } from "./App.ts"
import { byId } from "./Dom.ts"
import { type Login, type Session, socketUrl, start } from "./Session.ts"

const SAVED = "parley.login"
const dmsKey = (user: string) => `parley.dms.${user.toLowerCase()}`

interface Saved {
  readonly username: string
  readonly token: string
}

const storage = {
  load: (): Saved | undefined => {
    try {
      const saved = JSON.parse(localStorage.getItem(SAVED) ?? "null") as Saved | null
      return saved !== null && typeof saved.username === "string" && typeof saved.token === "string" ? saved : undefined
    } catch {
      return undefined
    }
  },
  save: (saved: Saved) => localStorage.setItem(SAVED, JSON.stringify(saved)),
  clear: () => localStorage.removeItem(SAVED),
  dms: (user: string): ReadonlyArray<string> => {
    try {
      const names = JSON.parse(localStorage.getItem(dmsKey(user)) ?? "[]") as unknown
      return Array.isArray(names) ? names.filter((n): n is string => typeof n === "string") : []
    } catch {
      return []
    }
  }
}

const loginScreen = byId("login-screen")
const chatScreen = byId("chat-screen")
const form = byId<HTMLFormElement>("login-form")
const userInput = byId<HTMLInputElement>("login-user")
const passwordInput = byId<HTMLInputElement>("login-password")
const loginError = byId("login-error")
const buttons = [byId<HTMLButtonElement>("login-button"), byId<HTMLButtonElement>("register-button")]

let current: { app: App; session: Session | undefined } | undefined

const showLogin = (reason?: string) => {
  chatScreen.hidden = true
  loginScreen.hidden = false
  byId("login-status").textContent = ""
  loginError.textContent = reason ?? ""
  document.title = "Parley"
  for (const b of buttons) b.disabled = false
  ;(userInput.value === "" ? userInput : passwordInput).focus()
}

const enter = async (login: Login) => {
  loginScreen.hidden = false
  loginError.textContent = ""
  byId("login-status").textContent = `Connecting as ${login.username}…`
  for (const b of buttons) b.disabled = true
  const app = new App({
    onEnded: (reason) => {
      storage.clear()
      current?.app.dispose()
      void current?.session?.close()
      current = undefined
      showLogin(reason)
    },
    saveDms: (names) => localStorage.setItem(dmsKey(login.username), JSON.stringify(names))
  }, storage.dms(login.username))
  current = { app, session: undefined }
  try {
    const session = await start(socketUrl(window.location), login, app)
    if (current?.app !== app) return void session.close()
    current.session = session
    storage.save({ username: session.user, token: session.token })
    passwordInput.value = ""
    loginScreen.hidden = true
    chatScreen.hidden = false
    app.attach(session)
    byId("composer-input").focus()
  } catch (error) {
    app.dispose()
    current = undefined
    if (login.token !== undefined) storage.clear()
    showLogin(login.token !== undefined ? "Please log in again." : (error as Error).message)
  }
}

const submit = (register: boolean) => {
  const username = userInput.value.trim()
  const password = passwordInput.value
  if (username === "") return showLogin("Enter a username.")
  if (password === "") {
    loginError.textContent = "Enter a password."
    return passwordInput.focus()
  }
  void enter({ username, password, register })
}

form.addEventListener("submit", (e) => {
  e.preventDefault()
  submit(false)
})
byId("register-button").addEventListener("click", () => submit(true))

const saved = storage.load()
if (saved === undefined) showLogin()
else {
  userInput.value = saved.username
  void enter({ username: saved.username, token: saved.token })
}
