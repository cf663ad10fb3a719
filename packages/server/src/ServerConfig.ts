/**
 * The server's settings: the operator table of protocol v1 plus the limits
 * that are fixed by default but worth naming in one place.
 */
import { MAX_FRAME_BYTES, MAX_TEXT_CHARS } from "@parley/protocol"
import { Context, Layer } from "effect"
import { randomBytes } from "node:crypto"
import { hostname } from "node:os"

/** The TLS listener: its port, and the PEM files of its certificate (read again on SIGHUP). */
export interface TlsSettings {
  readonly port: number
  readonly certFile: string
  readonly keyFile: string
}

/** The web port (`--web-port`): the web client's files at `/`, WebSocket connections at `/ws`. */
export interface WebSettings {
  /** 0 picks a free one. */
  readonly port: number
  readonly host: string
  /** The directory of the built web client (`packages/web/dist` unless `--web-root`). */
  readonly root: string
  /**
   * Origins a browser page may open `/ws` from (`--web-origin`): "own" (the
   * default) is the page's own origin, the scheme and Host the request came
   * to; "any" allows every one.
   */
  readonly origins: "own" | "any" | ReadonlyArray<string>
  /** Take the client's address from `X-Forwarded-For` (and the scheme from `X-Forwarded-Proto`): behind a reverse proxy only. */
  readonly trustProxy: boolean
}

export interface ServerSettings {
  readonly host: string
  /** The plain TCP port; "off" serves TLS only. */
  readonly port: number | "off"
  /** Also listen with TLS, on the same host; undefined: plain TCP only. */
  readonly tls: TlsSettings | undefined
  /** SQLite file; opened by two connections (see MessageWriter), so not `:memory:`. */
  readonly db: string
  /** MSGs per second per connection, sustained; 0 turns flood control off. */
  readonly msgRate: number
  /** MSGs a connection may send at once before `msgRate` applies. */
  readonly msgBurst: number
  /** Failed logins allowed per (username, address) in any sliding 60 s before CONNECT gets RATE_LIMITED unhashed; 0 disables. */
  readonly loginFailures: number
  /** Accounts one address may create in any sliding 10 minutes; 0 disables. */
  readonly registerRate: number
  /** Connections one address may hold at once (IPv6 per /64); past it `BYE too_many_connections` instead of HELLO; 0 disables. */
  readonly maxConnsPerIp: number
  /** Seconds from accept within which CONNECT must succeed, else `BYE auth_timeout`; 0 disables. */
  readonly authTimeoutSeconds: number
  /** Seconds without any frame before `BYE idle`; 0 disables. */
  readonly idleTimeoutSeconds: number
  readonly maxFrameBytes: number
  readonly maxTextChars: number
  /** Days a login token stays valid. */
  readonly tokenTtlDays: number
  /** Most messages replayed after CONNECT before TRUNCATED. */
  readonly replayCap: number
  /** Bytes of broadcasts queued for one connection (beyond what the kernel holds) before it is dropped as a slow consumer. */
  readonly outboundLimitBytes: number
  /** Password hashes computed at once (argon2id takes 19 MiB each). */
  readonly hashConcurrency: number
  /** Password hashes allowed to wait for a slot before REGISTER/CONNECT get RATE_LIMITED. */
  readonly hashQueueLimit: number
  /**
   * SQLite `synchronous` pragma in WAL mode. NORMAL: a commit survives a
   * process crash; a power loss may undo the last commits. FULL: each group
   * commit is fsynced before its ACKs, surviving power loss, at the cost of
   * an fsync (milliseconds, blocking the event loop) per batch.
   */
  readonly synchronous: "full" | "normal"
  /** Port of the HTTP endpoint serving `/metrics` and `/healthz`; undefined: not served; 0 picks a free one. */
  readonly metricsPort: number | undefined
  /** Address the metrics endpoint listens on. */
  readonly metricsHost: string
  /** The cluster's bus (a `redis://` URL); undefined: this node is the whole service. */
  readonly bus: string | undefined
  /** This node's name in logs and in the sessions it holds. */
  readonly nodeId: string
  /** The web client and WebSocket endpoint; undefined: not served. */
  readonly web: WebSettings | undefined
}

/** The TLS port when `--tls-cert`/`--tls-key` are given without `--tls-port`. */
export const DEFAULT_TLS_PORT = 5556

export const defaults: ServerSettings = {
  host: "127.0.0.1",
  port: 5555,
  tls: undefined,
  db: "chat_server.db",
  msgRate: 20,
  msgBurst: 100,
  loginFailures: 5,
  maxConnsPerIp: 64,
  authTimeoutSeconds: 30,
  registerRate: 5,
  idleTimeoutSeconds: 120,
  maxFrameBytes: MAX_FRAME_BYTES,
  maxTextChars: MAX_TEXT_CHARS,
  tokenTtlDays: 7,
  replayCap: 1000,
  outboundLimitBytes: 1024 * 1024,
  hashConcurrency: 2,
  hashQueueLimit: 512,
  synchronous: "normal",
  metricsPort: undefined,
  metricsHost: "127.0.0.1",
  bus: undefined,
  nodeId: "parley",
  web: undefined
}

/** A node id for a node started without `--node-id`: the host name and a random suffix. */
export const generatedNodeId = (): string => `${hostname().split(".")[0]}-${randomBytes(3).toString("hex")}`

/** The settings in force. */
export class ServerConfig extends Context.Tag("@parley/server/ServerConfig")<ServerConfig, ServerSettings>() {
  static layer = (settings: Partial<ServerSettings> = {}) =>
    Layer.sync(ServerConfig, () => ({ ...defaults, nodeId: generatedNodeId(), ...settings }))
}
