/**
 * Logging in on a fresh link: REGISTER when asked, then CONNECT with the
 * token when there is one (no password hash on the server, so a restarted
 * server is not swamped), falling back to the password. Each refusal is
 * sorted into "try again later" (`ConnectionLost`) or "stop" (`LoginRejected`).
 */
import { Connect, Register } from "@parley/protocol"
import { Duration, Effect, Redacted, Schema } from "effect"
import { ConnectionLost, LoginRejected } from "./ClientError.ts"
import type * as Connection from "./Connection.ts"
import { encoded, type Incoming as ServerFrame, type RoomConnected as Connected } from "./Frames.ts"
import { errorOf, unexpected } from "./Reply.ts"

/** Who logs in, and how long the server may take to answer. */
export interface LoginOptions {
  readonly username: string
  readonly password: Redacted.Redacted<string> | undefined
  readonly token: string | undefined
  /** Sent as `resume_after` when defined. */
  readonly resumeAfter: number | undefined
  /** REGISTER said USERNAME_TAKEN just before: a refused password then means the name is someone else's. */
  readonly nameTaken: boolean
  /** Opt in to room traffic (protocol v1.2: `rooms: true` on CONNECT). */
  readonly rooms: boolean
  readonly timeout: Duration.Duration
}

const ask = (conn: Connection.Connection, command: Connection.Outgoing, what: string, timeout: Duration.Duration) =>
  conn.request(command).pipe(
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () => new ConnectionLost({ reason: `no reply to ${what} within ${Duration.format(timeout)}` })
    })
  )

const busy = (what: string, retryAfterMs: number | undefined, code: "RATE_LIMITED" | "UNAVAILABLE" = "RATE_LIMITED") =>
  new ConnectionLost({
    reason: code === "UNAVAILABLE"
      ? `the server's database is unavailable (${what}); it says to retry shortly`
      : `the server is busy (${what} rate limited)`,
    retryAfterMs
  })

/** REGISTER; "taken" is not an error yet (it may be our own account from an earlier run). */
export const register = (
  conn: Connection.Connection,
  username: string,
  password: Redacted.Redacted<string>,
  timeout: Duration.Duration
) =>
  Effect.gen(function*() {
    const reply = yield* ask(
      conn,
      new Register({ command: "REGISTER", username, password: Redacted.value(password) }, true),
      "REGISTER",
      timeout
    )
    if (reply.type === "REGISTERED") return "registered" as const
    const error = errorOf(reply)
    if (error === undefined) return yield* unexpected("REGISTER", reply)
    switch (error.code) {
      case "USERNAME_TAKEN":
        return "taken" as const
      case "RATE_LIMITED":
      case "UNAVAILABLE":
        return yield* busy("REGISTER", error.retry_after_ms, error.code)
      case "INVALID_COMMAND":
        return yield* new LoginRejected({
          code: error.code,
          reason: `cannot register "${username}": ${error.message}. ` +
            `A username is 3..32 of A-Z a-z 0-9 _ -, a password 8..1024 characters.`
        })
      default:
        return yield* new LoginRejected({ code: error.code, reason: `cannot register: ${error.message}` })
    }
  })

/** CONNECT with the token, else the password; says which one worked. */
export const login = (conn: Connection.Connection, options: LoginOptions) =>
  Effect.gen(function*() {
    const base = {
      command: "CONNECT" as const,
      username: options.username,
      ...(options.resumeAfter !== undefined ? { resume_after: options.resumeAfter } : {})
    }
    const connect = (credential: { token: string } | { password: string }) => {
      const command = new Connect({ ...base, ...credential }, true)
      // `rooms` is v1.2: the protocol's `Connect` schema does not have it yet
      const outgoing = options.rooms ? encoded({ ...Schema.encodeSync(Connect)(command), rooms: true }) : command
      return ask(conn, outgoing, "CONNECT", options.timeout)
    }

    if (options.token !== undefined) {
      const reply: ServerFrame = yield* connect({ token: options.token })
      if (reply.type === "CONNECTED") return { reply: reply as Connected, via: "token" as const }
      const error = errorOf(reply)
      if (error === undefined) return yield* unexpected("CONNECT", reply)
      if (error.code === "RATE_LIMITED" || error.code === "UNAVAILABLE") {
        return yield* busy("CONNECT", error.retry_after_ms, error.code)
      }
      // expired, or a server with a new database: the password decides
    }
    if (options.password === undefined) {
      return yield* new LoginRejected({
        code: "AUTH_FAILED",
        reason: "the server no longer accepts this session's token and no password was given: log in again"
      })
    }
    const reply: ServerFrame = yield* connect({ password: Redacted.value(options.password) })
    if (reply.type === "CONNECTED") {
      return { reply: reply as Connected, via: "password" as const }
    }
    const error = errorOf(reply)
    if (error === undefined) return yield* unexpected("CONNECT", reply)
    switch (error.code) {
      case "AUTH_FAILED":
        return yield* new LoginRejected({
          code: error.code,
          reason: options.nameTaken
            ? `the username "${options.username}" is taken by someone else: choose another --user`
            : `login refused for "${options.username}": wrong username or password ` +
              `(new here? add --register to create the account)`
        })
      case "RATE_LIMITED":
      case "UNAVAILABLE":
        return yield* busy("CONNECT", error.retry_after_ms, error.code)
      case "INVALID_COMMAND":
        return yield* new LoginRejected({ code: error.code, reason: `the server refused the login: ${error.message}` })
      default:
        return yield* new ConnectionLost({ reason: `CONNECT failed: ${error.code} ${error.message}` })
    }
  })
