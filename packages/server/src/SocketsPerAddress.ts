/**
 * Open sockets per address key (IPv6 per /64), for the per-address caps:
 * the server keeps one for admitted connections (`--max-conns-per-ip`) and,
 * with TLS, one for TLS sockets from their TCP accept (handshakes included).
 * A socket is counted from `hold` until it closes.
 */
import { addressKey } from "./AddressKey.ts"

/** A socket, or a WebSocket connection's transport (whose address may be the one a trusted proxy forwarded). */
export interface Counted {
  readonly remoteAddress?: string | undefined
  once(event: "close", listener: () => void): unknown
}

export class SocketsPerAddress {
  private readonly held = new Map<string, number>()

  /** Counts `socket` against its address for as long as it is open; false, counting nothing, at `cap`. */
  hold(socket: Counted, cap: number): boolean {
    const key = addressKey(socket.remoteAddress ?? "unknown")
    const held = this.held.get(key) ?? 0
    if (held >= cap) return false
    this.held.set(key, held + 1)
    socket.once("close", () => this.release(key))
    return true
  }

  private release(key: string): void {
    const left = (this.held.get(key) ?? 1) - 1
    if (left <= 0) this.held.delete(key)
    else this.held.set(key, left)
  }
}
