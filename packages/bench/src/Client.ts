/**
 * One generator-side connection: a raw `node:net` socket read into one
 * buffer shared by every connection of the process, a byte-level line
 * splitter, and just enough state to log in and count what arrives (or, for
 * `viaWebSocket`, a socket to the server's `/ws` whose WebSocket frames are
 * read on bytes the same way, see `WebSocketFrames.ts`). The hot
 * frames (MESSAGE, ACK) are recognised by their prefix and handed on as
 * bytes, never decoded or JSON-parsed (see `Lines.ts`), so one process can
 * hold thousands of these and still measure.
 */
import { encodeCommand, MAX_SERVER_FRAME_BYTES } from "@parley/protocol"
import * as net from "node:net"
import { ACK_PREFIX, LineSplitter, MESSAGE_PREFIX, PRESENCE_PREFIX, startsWith } from "./Lines.ts"
import { maskedTextFrame, upgradeRequest, WebSocketReader } from "./WebSocketFrames.ts"

/** Microseconds on the monotonic clock shared by every process of this machine (CLOCK_MONOTONIC). */
export const nowUs = (): number => {
  const t = process.hrtime()
  return t[0] * 1e6 + t[1] / 1e3
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export interface Endpoint {
  readonly host: string
  readonly port: number
  /** The nodes of a cluster (`--nodes`): client number `i` connects to `ports[|i| % ports.length]`. */
  readonly ports?: ReadonlyArray<number> | undefined
  /** The server's web port (`--web-port`), for clients that connect by WebSocket. */
  readonly webPort?: number | undefined
}

/** The port a client connects to: its node, for a cluster, by its id. */
export const portFor = (endpoint: Endpoint, clientIndex: number): number =>
  endpoint.ports === undefined || endpoint.ports.length === 0
    ? endpoint.port
    : endpoint.ports[Math.abs(clientIndex) % endpoint.ports.length]!

/** A decoded server frame (only for the rare, non-hot frames). */
export type Frame = { readonly type: string; readonly [key: string]: unknown }

/**
 * What a client reports up to its generator. The hot frames come as a byte
 * range `buf[start, end)` of one JSON line, valid only during the call, and
 * `atUs`, when the read that brought them returned.
 */
export interface ClientHooks {
  /** A MESSAGE line. */
  onMessage(client: Client, buf: Buffer, start: number, end: number, atUs: number): void
  /** An ACK line nobody waited for. */
  onAck(client: Client, buf: Buffer, start: number, end: number, atUs: number): void
  /** An ERROR nobody waited for. */
  onError(client: Client, frame: Frame): void
  /** The socket closed. */
  onClose(client: Client): void
}

export class ProtocolFailure extends Error {}

/**
 * Where every socket of this process reads into: lines are handled before
 * the next read (see `LineSplitter`), so one buffer serves them all.
 */
const readBuffer = Buffer.allocUnsafe(256 * 1024)

/** One logical client; its socket is replaced when it reconnects. */
export class Client {
  /** The TCP socket (for a WebSocket client too: its frames are read and written on it directly). */
  socket: net.Socket | undefined
  /** The socket speaks WebSocket (frames, not lines). */
  private webSocket = false
  /** Connect to the web port's `/ws` instead of the TCP port. */
  viaWebSocket = false
  ready = false
  bye: string | undefined
  token: string | undefined
  private lines: LineSplitter | WebSocketReader = new LineSplitter(MAX_SERVER_FRAME_BYTES)
  /** Logs in with `"rooms": true` when it connects through `Generator` (receives its rooms' traffic). */
  rooms = false
  /** When the read being handled returned (µs). */
  private readAtUs = 0
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

  /**
   * Opens a TCP connection (from `localAddress`, when given: another 127.0.0.x is another client
   * address), or with `viaWebSocket` a WebSocket to the web port's `/ws` (see `WebSocketFrames.ts`),
   * and waits for HELLO.
   */
  open(endpoint: Endpoint, timeoutMs = 30_000, localAddress?: string): Promise<void> {
    if (!this.viaWebSocket) {
      return this.dial(
        {
          host: endpoint.host,
          port: portFor(endpoint, this.index),
          ...(localAddress === undefined ? {} : { localAddress })
        },
        new LineSplitter(MAX_SERVER_FRAME_BYTES),
        "line too long",
        undefined,
        timeoutMs
      )
    }
    const webPort = endpoint.webPort
    if (webPort === undefined) return Promise.reject(new ProtocolFailure("the server has no web port"))
    return this.dial(
      { host: endpoint.host, port: webPort },
      new WebSocketReader(MAX_SERVER_FRAME_BYTES),
      "not a WebSocket",
      upgradeRequest(endpoint.host, webPort),
      timeoutMs
    )
  }

  /**
   * Connects, reads what arrives through `reader` (lines, or WebSocket frames once `upgrade`, the
   * HTTP request for `/ws`, is written first) and waits for HELLO; `unreadable` is why the
   * connection is dropped when the reader refuses the bytes.
   */
  private dial(
    to: { readonly host: string; readonly port: number; readonly localAddress?: string },
    reader: LineSplitter | WebSocketReader,
    unreadable: string,
    upgrade: string | undefined,
    timeoutMs: number
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const socket = net.connect({
        ...to,
        onread: {
          buffer: readBuffer,
          callback: (n: number, buf: Uint8Array): boolean => {
            this.readAtUs = nowUs()
            if (!reader.push(buf as Buffer, n, this.onLine)) socket.destroy(new ProtocolFailure(unreadable))
            return true
          }
        }
      })
      socket.setNoDelay(true)
      if (upgrade !== undefined) socket.write(upgrade)
      this.socket = socket
      this.webSocket = upgrade !== undefined
      this.lines = reader
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

  /** Bytes held for an incomplete line. */
  get buffered(): number {
    return this.lines.buffered
  }

  private readonly onLine = (buf: Buffer, start: number, end: number): void => {
    if (startsWith(buf, start, end, MESSAGE_PREFIX)) return this.hooks.onMessage(this, buf, start, end, this.readAtUs)
    if (this.waiting.size === 0 && startsWith(buf, start, end, ACK_PREFIX)) {
      return this.hooks.onAck(this, buf, start, end, this.readAtUs)
    }
    // with thousands of distinct users online, PRESENCE is N² lines that nothing here reads
    if (startsWith(buf, start, end, PRESENCE_PREFIX)) return
    this.line(buf.toString("utf8", start, end))
  }

  private line(text: string): void {
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
      case "MESSAGE": {
        // a server that orders its keys differently: rebuild the prefix form
        const line = Buffer.from(`{"type":"MESSAGE","text":${JSON.stringify(frame.text)}}`)
        return this.hooks.onMessage(this, line, 0, line.length, this.readAtUs)
      }
      case "ACK": {
        const line = Buffer.from(text)
        return this.hooks.onAck(this, line, 0, line.length, this.readAtUs)
      }
      case "BYE":
        this.bye = String(frame.reason ?? "")
        return
      case "ERROR":
        return this.hooks.onError(this, frame)
    }
  }

  /** Writes a command without waiting for anything. */
  send(command: Parameters<typeof encodeCommand>[0]): void {
    this.write(encodeCommand(command))
  }

  /** Writes one encoded line: as it is on TCP, as one text message without its newline on WebSocket. */
  private write(line: Uint8Array): void {
    if (this.webSocket) this.socket?.write(maskedTextFrame(line.subarray(0, line.length - 1)))
    else this.socket?.write(line)
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
      this.write(encodeCommand({ ...command, id } as Parameters<typeof encodeCommand>[0]))
    })
  }

  /** Authenticates with the token (or the password): resolves with CONNECTED or the failure frame. */
  async login(
    credential: { readonly password?: string; readonly token?: string },
    rooms = false
  ): Promise<Frame> {
    const reply = await this.request({
      command: "CONNECT",
      username: this.username,
      ...(credential.token !== undefined ? { token: credential.token } : { password: credential.password }),
      ...(rooms ? { rooms: true } : {})
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
