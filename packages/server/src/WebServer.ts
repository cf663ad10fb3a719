/**
 * The web port (`--web-port`, on `--web-host`): a plain node:http server, or
 * HTTPS with the TLS listener's certificate (reloaded with it on SIGHUP),
 * that serves two things:
 *
 * - `GET /ws`: the WebSocket endpoint. An upgrade whose `Origin` is not
 *   allowed (`--web-origin`; by default the page's own origin) gets 403 and
 *   no upgrade; an accepted one becomes a `WebTransport` handed to the
 *   server's `accept`, so it is a connection like any other (limits, hub,
 *   metrics). `GET /ws` without an upgrade gets 426 Upgrade Required.
 * - everything else: the built web client's files (`--web-root`, by default
 *   `packages/web/dist` beside the server package), `index.html` for `/`,
 *   with their content types, no way out of the directory (`..`, encoded or
 *   not, and dot files are refused), revalidated `index.html` and immutable
 *   hashed `/assets/`, and a Content-Security-Policy that lets the page load
 *   nothing but its own files and talk to nothing but its own server. When
 *   the directory is missing, `/` says how to build it.
 *
 * The address a connection counts under (per-address limits, sessions'
 * `ip_address`) is the peer's, or with `--trust-proxy` the last address of
 * `X-Forwarded-For`, the one the proxy itself saw.
 */
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Http from "node:http"
import * as Https from "node:https"
import * as Net from "node:net"
import * as Path from "node:path"
import { WebSocketServer } from "ws"
import { makeReply, TEXT } from "./HttpReply.ts"
import type { TlsSettings, WebSettings } from "./ServerConfig.ts"
import { loadCredentials } from "./Tls.ts"
import type { FrameSource } from "./Transport.ts"
import { MessageFramer, WebTransport } from "./WebTransport.ts"

/** The path of the WebSocket endpoint. */
export const WS_PATH = "/ws"

/**
 * `packages/web/dist`, found from the server package wherever this module
 * runs from (`src/` under tsx, `dist/lib/` once built).
 */
export const defaultWebRoot = (): string => {
  let dir = import.meta.dirname
  for (let up = 0; up < 4; up++) {
    const manifest = Path.join(dir, "package.json")
    if (Fs.existsSync(manifest)) {
      try {
        if ((JSON.parse(Fs.readFileSync(manifest, "utf8")) as { name?: unknown }).name === "@parley/server") {
          return Path.resolve(dir, "../web/dist")
        }
      } catch {
        // not a manifest we can read: keep looking
      }
    }
    dir = Path.dirname(dir)
  }
  return Path.resolve(import.meta.dirname, "../../web/dist")
}

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".webmanifest": "application/manifest+json; charset=utf-8",
  ".txt": "text/plain; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".ico": "image/x-icon",
  ".woff": "font/woff",
  ".woff2": "font/woff2",
  ".wasm": "application/wasm"
}

/**
 * The page loads only its own files and connects only to its own server
 * (`'self'` and, for browsers that do not count ws:/wss: as 'self', the
 * WebSocket schemes); no plugins, no framing, no forms posted anywhere.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self' ws: wss:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'"
].join("; ")

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "Content-Security-Policy": CONTENT_SECURITY_POLICY,
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "X-Frame-Options": "DENY",
  "Cross-Origin-Opener-Policy": "same-origin"
}

/** A whole short response, with the security headers (a HEAD request gets the headers only). */
const reply = makeReply(SECURITY_HEADERS)

const notBuilt = (root: string) =>
  `The Parley web client is not built: there is no ${root}.\n` +
  "Build it with `pnpm build` in the repository (or point --web-root at a built copy), then reload this page.\n" +
  `The WebSocket endpoint ${WS_PATH} works meanwhile.\n`

/**
 * The file a request path names inside `root`, or undefined when it names
 * nothing that may be served: a `..` or dot-file segment (after decoding, so
 * `%2e%2e%2f` counts), a NUL, or anything resolving outside `root`.
 */
export const fileFor = (root: string, pathname: string): string | undefined => {
  let decoded: string
  try {
    decoded = decodeURIComponent(pathname)
  } catch {
    return undefined
  }
  if (decoded.includes("\0") || decoded.includes("\\")) return undefined
  const segments = decoded.split("/")
  if (segments.some((s) => s.startsWith("."))) return undefined
  const file = Path.resolve(root, "." + Path.posix.normalize("/" + decoded))
  if (file !== root && !file.startsWith(root + Path.sep)) return undefined
  return decoded.endsWith("/") ? Path.join(file, "index.html") : file
}

/** Vite's content-hashed files never change under their name; everything else is revalidated. */
const cacheControl = (pathname: string) =>
  pathname.startsWith("/assets/") ? "public, max-age=31536000, immutable" : "no-cache"

/** Serves one file of the web client, or says why not. */
const serveFile = async (req: Http.IncomingMessage, res: Http.ServerResponse, root: string, pathname: string) => {
  const file = fileFor(root, pathname)
  if (file === undefined) return reply(req, res, 404, "not found\n")
  let stat = await Fs.promises.stat(file).catch(() => undefined)
  let served = file
  if (stat?.isDirectory() === true) {
    served = Path.join(file, "index.html")
    stat = await Fs.promises.stat(served).catch(() => undefined)
  }
  if (stat === undefined || !stat.isFile()) {
    if (pathname === "/" && !Fs.existsSync(root)) return reply(req, res, 503, notBuilt(root))
    return reply(req, res, 404, "not found\n")
  }
  const etag = `W/"${stat.size.toString(16)}-${Math.floor(stat.mtimeMs).toString(16)}"`
  const headers = {
    ...SECURITY_HEADERS,
    "Content-Type": CONTENT_TYPES[Path.extname(served).toLowerCase()] ?? "application/octet-stream",
    "Cache-Control": cacheControl(pathname),
    ETag: etag,
    "Last-Modified": stat.mtime.toUTCString()
  }
  if (req.headers["if-none-match"] === etag) {
    res.writeHead(304, headers)
    res.end()
    return
  }
  res.writeHead(200, { ...headers, "Content-Length": String(stat.size) })
  if (req.method === "HEAD") {
    res.end()
    return
  }
  const stream = Fs.createReadStream(served)
  stream.on("error", () => res.destroy())
  stream.pipe(res)
}

/** The path of a request target (`/a/b?c` → `/a/b`), or undefined for a target that is not a path. */
const pathOf = (url: string | undefined): string | undefined => {
  if (url === undefined || !url.startsWith("/")) return undefined
  const end = url.search(/[?#]/)
  return end === -1 ? url : url.slice(0, end)
}

const first = (header: string | Array<string> | undefined): string | undefined =>
  Array.isArray(header) ? header[0] : header

/** The address a WebSocket connection counts under (see the header). */
export const peerAddress = (req: Http.IncomingMessage, trustProxy: boolean): string => {
  const peer = req.socket.remoteAddress ?? "unknown"
  if (!trustProxy) return peer
  const forwarded = first(req.headers["x-forwarded-for"])
  if (forwarded === undefined) return peer
  const last = forwarded.split(",").map((a) => a.trim()).filter((a) => a.length > 0).pop()
  return last !== undefined && Net.isIP(last) !== 0 ? last : peer
}

/** `scheme://host[:port]` as browsers write an Origin (default ports left out); undefined when it is not one. */
export const normalizeOrigin = (origin: string): string | undefined => {
  try {
    const url = new URL(origin)
    return url.protocol === "http:" || url.protocol === "https:" ? url.origin : undefined
  } catch {
    return undefined
  }
}

/** Whether a browser page from `origin` may open a connection (see `WebSettings.origins`). */
export const originAllowed = (req: Http.IncomingMessage, web: WebSettings, secure: boolean): boolean => {
  const origin = first(req.headers.origin)
  // not a browser (or one that sends no Origin): the check protects browsers' users from other sites' pages
  if (origin === undefined) return true
  if (web.origins === "any") return true
  const normalized = normalizeOrigin(origin)
  if (normalized === undefined) return false
  if (web.origins !== "own") return web.origins.includes(normalized)
  const host = first(req.headers.host)
  if (host === undefined) return false
  const proto = web.trustProxy ? first(req.headers["x-forwarded-proto"])?.split(",")[0]?.trim() : undefined
  const scheme = proto === "https" || proto === "http" ? proto : secure ? "https" : "http"
  return normalizeOrigin(`${scheme}://${host}`) === normalized
}

/** Answers an upgrade request that is refused, on its raw socket, and closes it. */
const refuseUpgrade = (socket: Net.Socket, status: number, reason: string, body: string) => {
  socket.on("error", () => {})
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: ${TEXT}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
  )
  setTimeout(() => socket.destroy(), 1000).unref()
}

/**
 * Bytes a WebSocket message may hold before `ws` ends the connection (close
 * 1009) instead of it reaching `MessageFramer`: up to this a message past the
 * frame limit gets FRAME_TOO_LARGE and the connection stays open, as on TCP.
 * A bound is needed because `ws` holds a whole message in memory; TCP's framer
 * discards an oversized line as it arrives.
 */
export const maxPayloadFor = (maxFrameBytes: number) => Math.max(4 * maxFrameBytes, 64 * 1024)

export interface WebServerOptions {
  readonly web: WebSettings
  readonly tls: TlsSettings | undefined
  readonly maxFrameBytes: number
  /** Serves an accepted WebSocket connection (the server's `accept`). */
  readonly accept: (transport: WebTransport, framer: FrameSource) => void
  readonly logError: (message: string) => void
}

/** The web port's HTTP(S) server (not yet listening) and how to reload its certificate. */
export const makeWebServer = (options: WebServerOptions) =>
  Effect.gen(function*() {
    const { maxFrameBytes, tls, web } = options
    const credentials = tls === undefined ? undefined : yield* loadCredentials(tls)
    const serverOptions: Http.ServerOptions = { requestTimeout: 30_000, headersTimeout: 10_000 }
    const server: Http.Server = credentials === undefined
      ? Http.createServer(serverOptions)
      : Https.createServer({ ...serverOptions, ...credentials })
    const secure = credentials !== undefined
    const wss = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      perMessageDeflate: false,
      // checked by MessageFramer, which answers INVALID_JSON where ws would close the connection
      skipUTF8Validation: true,
      maxPayload: maxPayloadFor(maxFrameBytes)
    })
    server.on("request", (req: Http.IncomingMessage, res: Http.ServerResponse) => {
      const pathname = pathOf(req.url)
      if (pathname === undefined) return reply(req, res, 400, "bad request\n")
      if (req.method !== "GET" && req.method !== "HEAD") {
        return reply(req, res, 405, "method not allowed: GET and HEAD only\n", { Allow: "GET, HEAD" })
      }
      if (pathname === WS_PATH) {
        return reply(
          req,
          res,
          426,
          `${WS_PATH} is the Parley WebSocket endpoint: open it with a WebSocket client (ws:// or wss://)\n`,
          { Upgrade: "websocket", Connection: "Upgrade" }
        )
      }
      serveFile(req, res, web.root, pathname).catch((error: unknown) => {
        options.logError(`serving ${pathname} failed: ${error instanceof Error ? error.message : String(error)}`)
        if (!res.headersSent) reply(req, res, 500, "internal error\n")
        else res.destroy()
      })
    })
    server.on("upgrade", (req: Http.IncomingMessage, socket: Net.Socket, head: Buffer) => {
      if (pathOf(req.url) !== WS_PATH) return refuseUpgrade(socket, 404, "Not Found", `try ${WS_PATH}\n`)
      if (!originAllowed(req, web, secure)) {
        return refuseUpgrade(
          socket,
          403,
          "Forbidden",
          "this page's origin may not connect here (see the server's --web-origin)\n"
        )
      }
      const address = peerAddress(req, web.trustProxy)
      wss.handleUpgrade(req, socket, head, (ws) => {
        options.accept(new WebTransport(ws, socket, address), new MessageFramer(maxFrameBytes))
      })
    })
    // a client that sends garbage or goes away mid-request only ends its own socket
    server.on("clientError", (_error: Error, socket: Net.Socket) => {
      if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n")
      socket.destroy()
    })
    /** Reads the certificate and key again (SIGHUP); on failure the old ones stay. */
    const reload = credentials === undefined || tls === undefined
      ? Effect.void
      : Effect.flatMap(loadCredentials(tls), (fresh) =>
        Effect.sync(() => (server as Https.Server).setSecureContext(fresh)))
    return { server, reload, secure } as const
  })
