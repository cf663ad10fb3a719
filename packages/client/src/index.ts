/**
 * @parley/client: a Parley chat client library (no terminal code) with a
 * reconnecting connection state machine; the terminal program is `bin.ts`.
 */
export * as Backoff from "./Backoff.ts"
export * from "./ChatClient.ts"
export * from "./ClientError.ts"
export * as Connection from "./Connection.ts"
export * from "./ConnectionState.ts"
