/**
 * The browser transport: a `WebSocket` to the server's web port (`--web-port`, path `/ws`), where
 * each text message is exactly one protocol frame, both ways (protocol-v1 "Additions in v1.1").
 * It uses the platform's `WebSocket` (a browser's, or any constructor with the same shape passed
 * in, such as Node's `ws`), and no `node:*` module, so the web page bundles it with the core.
 */
import { MAX_SERVER_FRAME_BYTES } from "@parley/protocol"
import { Deferred, Duration, Effect, Exit } from "effect"
import { type Transport, TransportError, type Wire, type WireHandlers } from "./Transport.ts"

/** The part of the standard `WebSocket` this transport uses. */
export interface WebSocketLike {
  readonly readyState: number
  onopen: ((event: unknown) => void) | null
  onclose: ((event: { readonly code: number; readonly reason: string; readonly wasClean?: boolean }) => void) | null
  onerror: ((event: unknown) => void) | null
  onmessage: ((event: { readonly data: unknown }) => void) | null
  send(data: string): void
  close(code?: number, reason?: string): void
}

/** A `WebSocket` constructor (the standard one takes the URL and optional subprotocols). */
export type WebSocketConstructor = new(url: string) => WebSocketLike

const OPEN = 1

/** The global `WebSocket`, when this platform has one. */
const globalWebSocket = (): WebSocketConstructor | undefined =>
  (globalThis as { readonly WebSocket?: WebSocketConstructor }).WebSocket

/** A close the server meant (normal closure, or going away on shutdown) rather than a broken link. */
const orderly = (code: number) => code === 1000 || code === 1001

const describeClose = (url: string, code: number, reason: string) =>
  code === 1006
    ? `lost the connection to ${url}`
    : `${url} closed the connection (WebSocket code ${code}${reason === "" ? "" : `: ${reason}`})`

/**
 * A transport that opens `url` (`ws://host:port/ws` or `wss://...`). A browser page passes
 * `new URL("/ws", location.href)` with the scheme swapped, so it talks to the server that served it.
 */
export const make = (url: string, WebSocket: WebSocketConstructor | undefined = globalWebSocket()): Transport => ({
  address: url,
  silenceHint: "",
  open: (options, handlers: WireHandlers) =>
    Effect.gen(function*() {
      if (WebSocket === undefined) {
        return yield* new TransportError({ reason: "this platform has no WebSocket: pass a WebSocket constructor" })
      }
      const opened = yield* Deferred.make<void, TransportError>()
      const ended = yield* Deferred.make<void, TransportError>()
      const socket = yield* Effect.acquireRelease(
        Effect.try({
          try: () => new WebSocket(url),
          catch: (cause) => new TransportError({ reason: `cannot connect to ${url}: ${String(cause)}` })
        }),
        (socket) =>
          Effect.sync(() => {
            socket.onmessage = null
            if (socket.readyState <= OPEN) socket.close(1000)
          })
      )
      let isOpen = false
      socket.onopen = () => {
        isOpen = true
        Deferred.unsafeDone(opened, Exit.void)
      }
      // a browser says nothing about why (no "refused" or "reset"): the close code is all there is
      socket.onerror = () => undefined
      socket.onclose = (event) => {
        if (!isOpen) {
          const reason = `cannot connect to ${url}: is the server running, with --web-port?`
          Deferred.unsafeDone(opened, Exit.fail(new TransportError({ reason })))
        }
        Deferred.unsafeDone(
          ended,
          orderly(event.code)
            ? Exit.void
            : Exit.fail(new TransportError({ reason: describeClose(url, event.code, event.reason) }))
        )
      }
      socket.onmessage = (event) => {
        const data = event.data
        // the server sends text frames only; anything else (or a frame over the limit) is skipped
        if (typeof data === "string" && data.length <= MAX_SERVER_FRAME_BYTES) handlers.onFrame(data)
        else handlers.onSkipped()
      }
      yield* Deferred.await(opened).pipe(
        Effect.timeoutFail({
          duration: options.connectTimeout,
          onTimeout: () =>
            new TransportError({
              reason: `no answer from ${url} (connect timed out after ${Duration.format(options.connectTimeout)})`
            })
        })
      )
      return {
        send: (frames) =>
          Effect.suspend(() => {
            if (socket.readyState !== OPEN) {
              return Effect.fail(new TransportError({ reason: `lost the connection to ${url} while writing` }))
            }
            for (const frame of frames) socket.send(frame)
            return Effect.void
          }),
        ended: Deferred.await(ended)
      } satisfies Wire
    })
})
