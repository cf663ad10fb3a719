/**
 * The connection banner's words, from the client's connection state: nothing while connected;
 * while the link is down, why, and a countdown to the next attempt; and in every case how many
 * of your messages wait to be sent (they go out by themselves, once, after the next login).
 */
import type { ConnectionState } from "@parley/client/browser"

export interface Banner {
  readonly text: string
  /** The link is down (shown as a warning). */
  readonly down: boolean
}

/** The banner for `state` at `now` (ms) with `waiting` unsent messages; undefined: no banner. */
export const bannerOf = (state: ConnectionState | undefined, waiting: number, now: number): Banner | undefined => {
  const queued = waiting === 0 ? "" : ` ${waiting} message${waiting === 1 ? "" : "s"} waiting to be sent.`
  if (state === undefined || state._tag === "Connected") return undefined
  switch (state._tag) {
    case "Reconnecting": {
      const seconds = Math.max(0, Math.ceil((state.retryAt - now) / 1000))
      return {
        text: `Connection lost: ${state.error}. Reconnecting in ${seconds} s (attempt ${state.attempt + 1}).${queued}`,
        down: true
      }
    }
    case "Connecting":
    case "Authenticating":
      return { text: `Connecting…${queued}`, down: false }
    default:
      return { text: `Disconnected${state.reason === undefined ? "" : `: ${state.reason}`}.${queued}`, down: true }
  }
}
