/**
 * @parley/server: the Parley chat server as layers, for embedding and tests.
 */
export { ServerLive } from "./ServerLive.ts"
export { Listener } from "./Server.ts"
export { defaults, ServerConfig, type ServerSettings } from "./ServerConfig.ts"
