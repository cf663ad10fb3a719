/**
 * The composition root: the listener on top of every service it needs, and
 * the one place where the storage backend is chosen (from `--db`).
 */
import { Console, Effect, Layer } from "effect"
import type * as Net from "node:net"
import { Accounts } from "./Account.ts"
import { channelFor, isRedisUrl, MemoryBus, readClusterId } from "./Bus.ts"
import { Cluster } from "./Cluster.ts"
import { Hub } from "./Hub.ts"
import { MessagesRepo } from "./MessagesRepo.ts"
import { Metrics } from "./Metrics.ts"
import { PasswordHasher } from "./PasswordHasher.ts"
import { isPostgresUrl, PgStorage, redactUrl } from "./PgDatabase.ts"
import { Presence } from "./Presence.ts"
import { Relay } from "./Relay.ts"
import { RoomsRepo } from "./RoomsRepo.ts"
import { Listener } from "./Server.ts"
import { ServerConfig, type ServerSettings } from "./ServerConfig.ts"
import { SessionsRepo } from "./SessionsRepo.ts"
import { SqliteStorage } from "./SqliteDatabase.ts"
import { TokensRepo } from "./TokensRepo.ts"
import { UsersRepo } from "./UsersRepo.ts"

/** The services above the storage seam: each needs only its tags (`SqlClient`, `GroupCommit`, the repositories). */
const Services = Accounts.Default.pipe(
  Layer.provideMerge(Layer.mergeAll(
    MessagesRepo.Default,
    RoomsRepo.Default,
    SessionsRepo.Default,
    UsersRepo.Default,
    TokensRepo.Default,
    PasswordHasher.Default,
    Presence.Default,
    Hub.Default,
    Relay.Default
  ))
)

const showAddress = (address: Net.AddressInfo) =>
  `${address.family === "IPv6" ? `[${address.address}]` : address.address}:${address.port}`

const Announce = Layer.effectDiscard(
  Effect.gen(function*() {
    const { address, tlsAddress, webAddress, webSecure } = yield* Listener
    const config = yield* ServerConfig
    // a plain line on stdout whatever the log level: people and tools wait for it
    const database = isPostgresUrl(config.db)
      ? `database ${redactUrl(config.db)}`
      : `database ${config.db}, synchronous=${config.synchronous}`
    const where = [
      ...(address === undefined ? [] : [`on ${showAddress(address)}`]),
      ...(tlsAddress === undefined ? [] : [`with TLS on ${showAddress(tlsAddress)}`])
    ].join(" and ")
    const node = config.bus === undefined ? "" : `, node ${config.nodeId} on bus ${redactUrl(config.bus)}`
    if (webAddress !== undefined) {
      // before the listening line, which is what tools wait for
      const [http, ws] = webSecure ? ["https", "wss"] : ["http", "ws"]
      const at = showAddress(webAddress)
      yield* Console.log(`Parley web client on ${http}://${at}/ and WebSocket ${ws}://${at}/ws`)
    }
    yield* Console.log(`Parley listening ${where} (${database}${node})`)
  })
)

/**
 * The cluster's bus: Redis for `--bus redis://…`; otherwise the in-memory
 * bus, which nothing publishes on (a node without `--bus` is the whole service).
 */
const BusLive = (settings: Partial<ServerSettings>) => {
  const url = settings.bus
  return url !== undefined && isRedisUrl(url)
    ? Layer.unwrapEffect(Effect.gen(function*() {
      // ioredis is loaded only for a cluster
      const m = yield* Effect.promise(() => import("./RedisBus.ts"))
      return m.RedisBus(url, channelFor(yield* readClusterId.pipe(Effect.orDie)))
    }))
    : MemoryBus(`parley:${settings.db ?? ""}`)
}

/** The whole server for the given settings; runs until interrupted. */
export const ServerLive = (settings: Partial<ServerSettings> = {}) =>
  Announce.pipe(
    // the metrics endpoint once the listener is up, before the listening line; prom-client is
    // loaded only for it
    Layer.provide(
      settings.metricsPort === undefined
        ? Layer.empty
        : Layer.unwrapEffect(
          Effect.promise(() => import("./MetricsServer.ts")).pipe(Effect.map((m) => m.MetricsServer))
        )
    ),
    Layer.provideMerge(Listener.Default),
    Layer.provideMerge(Cluster.Default),
    Layer.provide(Layer.merge(Services, BusLive(settings))),
    // a postgres:// or postgresql:// URL selects PostgreSQL; anything else is a SQLite file
    Layer.provideMerge(isPostgresUrl(settings.db ?? "") ? PgStorage : SqliteStorage),
    Layer.provideMerge(Layer.merge(ServerConfig.layer(settings), Metrics.Default))
  )
