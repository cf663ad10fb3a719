/**
 * @parley/client: a Parley chat client library (no terminal code) with a
 * reconnecting connection state machine; the terminal program is `bin.ts`.
 * This is the Node entry: the core (`browser.ts`) plus the TCP transport.
 */
export * from "./browser.ts"
export * as TcpTransport from "./TcpTransport.ts"
