/**
 * A whole short plain-text HTTP response, the way both of the server's HTTP listeners answer what
 * is not a file (the metrics endpoint, `MetricsServer.ts`, and the web port, `WebServer.ts`): its
 * exact length, never cached, and to a HEAD request the headers only. Each listener makes its own
 * `reply` with the headers it sends on every response (the web port: its security headers).
 */
import type * as Http from "node:http"

export const TEXT = "text/plain; charset=utf-8"

export type Reply = (
  req: Http.IncomingMessage,
  res: Http.ServerResponse,
  status: number,
  body: string,
  headers?: Readonly<Record<string, string>>
) => void

/** A `reply` that sends `always` first, then its own headers; `headers` add to or override them. */
export const makeReply =
  (always: Readonly<Record<string, string>> = {}): Reply => (req, res, status, body, headers) => {
    res.writeHead(status, {
      ...always,
      "Content-Type": TEXT,
      "Content-Length": String(Buffer.byteLength(body)),
      "Cache-Control": "no-store",
      ...headers
    })
    res.end(req.method === "HEAD" ? undefined : body)
  }
