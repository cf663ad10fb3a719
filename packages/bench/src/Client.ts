/**
 * One generator-side connection: a raw `node:net` socket, the protocol's byte
 * framer, and just enough state to log in and count what arrives. The hot
 * frames (MESSAGE, ACK) are recognised by their prefix and never JSON-parsed,
 * so one process can hold thousands of these and still measure.
 */
import * as net from "node:net"
import { encodeCommand, type FrameEvent, Framer, MAX_SERVER_FRAME_BYTES } from "@parley/protocol"

/** Microseconds on the monotonic clock shared by every process of this machine (CLOCK_MONOTONIC). */
export const nowUs = (): number => {
  const t = process.hrtime()
  return t[0] * 1e6 + t[1] / 1e3
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export interface Endpoint {
  readonly host: string
  readonly port: number
}

/** A decoded server frame (only for the rare, non-hot frames). */
export type Frame = { readonly type: string; readonly [key: string]: unknown }

/** What a client reports up to its generator. */
export interface ClientHooks {
  /** A MESSAGE line (raw JSON text). */
  onMessage(client: Client, line: string): void
  /** An ACK line (raw JSON text). */
  onAck(client: Client, line: string): void
  /** An ERROR nobody waited for. */
  onError(client: Client, frame: Frame): void
  /** The socket closed. */
  onClose(client: Client): void
}

export class ProtocolFailure extends Error {}

const MESSAGE_PREFIX = '{"type":"MESSAGE"'
const ACK_PREFIX = '{"type":"ACK"'

/** Reads the number that follows `"key":` in a raw JSON line (NaN when absent). */
export const numberField = (line: string, key: string): number => {
  const marker = `"${key}":`
  const i = line.indexOf(marker)
  if (i < 0) return NaN
  let j = i + marker.length
  if (line.charCodeAt(j) === 34) j++ // a string id: `"id":"123"`
  let k = j
  while (k < line.length) {
    const c = line.charCodeAt(k)
    if ((c < 48 || c > 57) && c !== 46 && c !== 45) break
    k++
  }
  return k === j ? NaN : Number(line.slice(j, k))
}

/** One logical client; its socket is replaced when it reconnects. */
export class Client {
  socket: net.Socket | undefined
  ready = false
  bye: string | undefined
  token: string | undefined
  private framer = new Framer(MAX_SERVER_FRAME_BYTES)
  private nextId = 1
  private readonly waiting = new Map<number, (frame: Frame) => void>()
  private onHello: ((frame: Frame) => void) | undefined
  private onGone: ((err: Error) => void) | undefined

  constructor(
    readonly index: number,
    readonly username: string,
    readonly role: string,
    private readonly hooks: ClientHooks
  ) {}

  /** Opens a TCP connection and waits for HELLO. */
  open(endpoint: Endpoint, timeoutMs = 30_000): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const socket = net.connect({ host: endpoint.host, port: endpoint.port })
      socket.setNoDelay(true)
      this.socket = socket
      this.framer = new Framer(MAX_SERVER_FRAME_BYTES)
      this.ready = false
      this.bye = undefined
      const timer = setTimeout(() => {
        socket.destroy()
        reject(new ProtocolFailure("no HELLO in time"))
      }, timeoutMs)
      this.onHello = () => {
        clearTimeout(timer)
        this.onHello = undefined
        resolve()
      }
      this.onGone = (err) => {
        clearTimeout(timer)
        reject(err)
      }
      const emit = (event: FrameEvent) => {
        if (event._tag === "Line") this.line(event.text)
      }
      socket.on("data", (chunk: Buffer) => this.framer.push(chunk, emit))
      socket.on("error", () => {})
      socket.on("close", () => this.closed(socket))
    })
  }

  private closed(socket: net.Socket): void {
    if (this.socket !== socket) return
    const wasReady = this.ready
    this.ready = false
    this.socket = undefined
    const gone = new ProtocolFailure(`connection closed${this.bye ? ` (BYE ${this.bye})` : ""}`)
    this.onGone?.(gone)
    this.onGone = undefined
    for (const [, resolve] of this.waiting) resolve({ type: "CLOSED" })
    this.waiting.clear()
    if (wasReady) this.hooks.onClose(this)
  }

  private line(text: string): void {
    if (text.startsWith(MESSAGE_PREFIX)) return this.hooks.onMessage(this, text)
    if (text.startsWith(ACK_PREFIX) && this.waiting.size === 0) return this.hooks.onAck(this, text)
    let frame: Frame
    try {
      frame = JSON.parse(text)
    } catch {
      return
    }
    const id = frame.id
    if (typeof id === "number" && this.waiting.has(id)) {
      const resolve = this.waiting.get(id)!
      this.waiting.delete(id)
      return resolve(frame)
    }
    switch (frame.type) {
      case "HELLO":
        return this.onHello?.(frame)
      case "MESSAGE":
        // a server that orders its keys differently: rebuild the prefix form
        return this.hooks.onMessage(this, `${MESSAGE_PREFIX},"text":${JSON.stringify(frame.text)}}`)
      case "ACK":
        return this.hooks.onAck(this, text)
      case "BYE":
        this.bye = String(frame.reason ?? "")
        return
      case "ERROR":
        return this.hooks.onError(this, frame)
    }
  }

  /** Writes a command without waiting for anything. */
  send(command: Parameters<typeof encodeCommand>[0]): void {
    this.socket?.write(encodeCommand(command))
  }

  /** Sends a command with a fresh id and resolves with the reply that echoes it. */
  request(command: Record<string, unknown>, timeoutMs = 60_000): Promise<Frame> {
    const socket = this.socket
    if (socket === undefined) return Promise.resolve({ type: "CLOSED" })
    const id = this.nextId++
    return new Promise<Frame>((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id)
        resolve({ type: "TIMEOUT" })
      }, timeoutMs)
      this.waiting.set(id, (frame) => {
        clearTimeout(timer)
        resolve(frame)
      })
      socket.write(encodeCommand({ ...command, id } as Parameters<typeof encodeCommand>[0]))
    })
  }

  /** Authenticates with the token (or the password): resolves with CONNECTED or the failure frame. */
  async login(credential: { readonly password?: string; readonly token?: string }): Promise<Frame> {
    const reply = await this.request({
      command: "CONNECT",
      username: this.username,
      ...(credential.token !== undefined ? { token: credential.token } : { password: credential.password })
    })
    if (reply.type === "CONNECTED") {
      this.ready = true
      this.token = String(reply.token)
    }
    return reply
  }

  /** Closes without ceremony (the server sees EOF). */
  close(): Promise<void> {
    const socket = this.socket
    if (socket === undefined) return Promise.resolve()
    return new Promise<void>((resolve) => {
      socket.once("close", () => resolve())
      socket.end()
      setTimeout(() => socket.destroy(), 2000).unref()
    })
  }
}
