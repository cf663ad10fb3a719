/**
 * The client core, for any platform: `ChatClient` and everything it is built from, with the
 * `Transport` seam and the WebSocket transport. Nothing reachable from here imports a `node:*`
 * module (test/BrowserCore.test.ts bundles it for the browser to keep it so); the Node entry,
 * `index.ts`, adds the TCP transport.
 */
export type { RoomInfo, SessionInfo } from "@parley/protocol"
export * as Backoff from "./Backoff.ts"
export * from "./ChatClient.ts"
export * from "./ClientError.ts"
export * as Connection from "./Connection.ts"
export * from "./ConnectionState.ts"
export * as Transport from "./Transport.ts"
export * as WebSocketTransport from "./WebSocketTransport.ts"
