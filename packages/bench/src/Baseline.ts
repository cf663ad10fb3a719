/**
 * The baseline: the plainest Node server that can take the generator's load.
 * `node:net`, NDJSON, no persistence and no auth: JSON.parse per line, one
 * JSON.stringify per message, one `write` per recipient. It speaks enough of
 * protocol v1 for the generator (HELLO, REGISTER/CONNECT answered at once,
 * MSG → ACK + MESSAGE, DMs by name, PING, DISCONNECT), so every Parley figure
 * can be set beside what bare Node does on the same machine in the same run.
 */
import { randomBytes } from "node:crypto"
import * as net from "node:net"

interface Peer {
  readonly socket: net.Socket
  user: string | undefined
}

export interface BaselineServer {
  readonly server: net.Server
  readonly port: number
  /** Says BYE shutdown to everyone and closes. */
  readonly shutdown: () => Promise<void>
}

const line = (frame: object): string => JSON.stringify(frame) + "\n"

export const startBaseline = (host: string, port: number): Promise<BaselineServer> => {
  const authed = new Set<Peer>()
  const byName = new Map<string, Set<Peer>>()
  const all = new Set<Peer>()
  let nextMessageId = 0
  let nextSessionId = 0

  const handle = (peer: Peer, text: string): void => {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the baseline reads untyped JSON, as a bare Node server would
    let cmd: Record<string, any>
    try {
      cmd = JSON.parse(text)
    } catch {
      peer.socket.write(line({ type: "ERROR", code: "INVALID_JSON", message: "the line is not valid JSON" }))
      return
    }
    const id = cmd?.id
    switch (cmd?.command) {
      case "REGISTER":
        peer.socket.write(line({ type: "REGISTERED", username: cmd.username, id }))
        return
      case "CONNECT": {
        if (peer.user !== undefined) {
          peer.socket.write(line({ type: "ERROR", code: "ALREADY_AUTHENTICATED", message: "already", id }))
          return
        }
        const user = String(cmd.username)
        peer.user = user
        authed.add(peer)
        let mine = byName.get(user.toLowerCase())
        if (mine === undefined) byName.set(user.toLowerCase(), mine = new Set())
        mine.add(peer)
        const token = typeof cmd.token === "string" ? cmd.token : randomBytes(16).toString("base64url")
        peer.socket.write(line({
          type: "CONNECTED",
          user,
          session_id: ++nextSessionId,
          token,
          online: [user],
          unread: 0,
          id
        }))
        return
      }
      case "MSG": {
        if (peer.user === undefined) {
          peer.socket.write(line({ type: "ERROR", code: "NOT_AUTHENTICATED", message: "log in first", id }))
          return
        }
        const message_id = ++nextMessageId
        const timestamp = new Date().toISOString()
        const to = typeof cmd.to === "string" ? cmd.to : null
        peer.socket.write(line({ type: "ACK", message_id, timestamp, id }))
        const out = line({ type: "MESSAGE", message_id, from: peer.user, to, text: cmd.text, timestamp })
        const recipients = to === null ? authed : (byName.get(to.toLowerCase()) ?? [])
        for (const other of recipients) if (other !== peer) other.socket.write(out)
        return
      }
      case "PING":
        peer.socket.write(line({ type: "PONG", id }))
        return
      case "USERS":
        peer.socket.write(line({ type: "USERS", online: [...byName.keys()], id }))
        return
      case "HISTORY":
        peer.socket.write(line({ type: "HISTORY", messages: [], has_more: false, id }))
        return
      case "DISCONNECT":
        peer.socket.end(line({ type: "BYE", id }))
        return
      default:
        peer.socket.write(line({ type: "ERROR", code: "UNKNOWN_COMMAND", message: "unknown command", id }))
    }
  }

  const forget = (peer: Peer) => {
    all.delete(peer)
    authed.delete(peer)
    if (peer.user !== undefined) byName.get(peer.user.toLowerCase())?.delete(peer)
  }

  const hello = line({
    type: "HELLO",
    protocol: 1,
    server: "parley-baseline 0.1.0",
    limits: { max_frame_bytes: 65536, max_text_chars: 4096 }
  })

  const server = net.createServer((socket) => {
    socket.setNoDelay(true)
    const peer: Peer = { socket, user: undefined }
    all.add(peer)
    let pending = ""
    socket.setEncoding("utf8")
    socket.on("data", (chunk: string) => {
      pending += chunk
      let nl: number
      while ((nl = pending.indexOf("\n")) >= 0) {
        const text = pending.slice(0, nl)
        pending = pending.slice(nl + 1)
        if (text.trim().length > 0) handle(peer, text)
      }
    })
    socket.on("error", () => {})
    socket.on("close", () => forget(peer))
    socket.write(hello)
  })
  server.maxConnections = 1_000_000

  return new Promise((resolve, reject) => {
    server.once("error", reject)
    server.listen({ host, port, backlog: 4096 }, () => {
      const address = server.address() as net.AddressInfo
      resolve({
        server,
        port: address.port,
        shutdown: () =>
          new Promise<void>((done) => {
            server.close(() => done())
            const bye = line({ type: "BYE", reason: "shutdown" })
            for (const peer of all) peer.socket.end(bye)
          })
      })
    })
  })
}
