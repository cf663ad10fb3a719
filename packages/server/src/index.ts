/**
 * @parley/server: the Parley chat server as layers, for embedding and tests.
 */
export { Listener } from "./Server.ts"
export { defaults, ServerConfig, type ServerSettings } from "./ServerConfig.ts"
export { ServerLive } from "./ServerLive.ts"
