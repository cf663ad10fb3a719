/**
 * What can go wrong in the client. Each error's message says what to do next,
 * because the terminal program shows it to a person as it is.
 */
import type { ErrorCode } from "@parley/protocol"
import { Data } from "effect"
import type { AnyErrorCode, RoomErrorCode } from "./Frames.ts"

/** The link broke (refused, closed, timed out, no PONG). The client reconnects by itself. */
export class ConnectionLost extends Data.TaggedError("ConnectionLost")<{
  readonly reason: string
  /** The server asked to wait this long first (RATE_LIMITED on login). */
  readonly retryAfterMs?: number | undefined
  /** The server ended it with `BYE revoked`: the client must not log in again by itself. */
  readonly revoked?: boolean | undefined
}> {
  override get message(): string {
    return this.reason
  }
}

/**
 * The server refused the login in a way a retry cannot fix, or cannot be
 * talked to as configured (another protocol; over TLS, a certificate this
 * client does not trust). The client stops.
 */
export class LoginRejected extends Data.TaggedError("LoginRejected")<{
  readonly code: AnyErrorCode | "PROTOCOL" | "TLS"
  readonly reason: string
}> {
  override get message(): string {
    return this.reason
  }
}

/** A request needs a logged-in link and there is none right now. */
export class NotConnected extends Data.TaggedError("NotConnected")<{
  readonly state: string
}> {
  override get message(): string {
    return `not connected (${this.state}); try again once the client has reconnected`
  }
}

/** The server answered a request with ERROR. */
export class RequestRejected extends Data.TaggedError("RequestRejected")<{
  readonly code: ErrorCode
  readonly reason: string
  readonly retryAfterMs?: number | undefined
}> {
  override get message(): string {
    return `${this.code}: ${this.reason}`
  }
}

/**
 * The server answered a request with one of the room error codes (protocol v1.2), with what was
 * refused (`action`, for FORBIDDEN) and until when (`expiresAt`, for BANNED and MUTED; null: until
 * lifted) when the server said so.
 */
export class RoomRejected extends Data.TaggedError("RoomRejected")<{
  readonly code: RoomErrorCode
  readonly reason: string
  readonly action?: string | undefined
  readonly expiresAt?: string | null | undefined
}> {
  override get message(): string {
    return `${this.code}: ${this.reason}`
  }
}

/** Text the server would refuse, caught before sending. */
export class InvalidInput extends Data.TaggedError("InvalidInput")<{
  readonly reason: string
}> {
  override get message(): string {
    return this.reason
  }
}

/** The client was stopped (disconnect, or a rejected login) before the request was answered. */
export class ClientStopped extends Data.TaggedError("ClientStopped")<{
  readonly reason: string
}> {
  override get message(): string {
    return this.reason
  }
}

/** Why a message could not be sent. */
export type SendError = RequestRejected | RoomRejected | InvalidInput | ClientStopped

/** Why a request (HISTORY, USERS, SESSIONS, REVOKE, READ, PING) failed. */
export type RequestError = NotConnected | ConnectionLost | RequestRejected | RoomRejected
