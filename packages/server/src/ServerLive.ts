/**
 * The composition root: the listener on top of every service it needs.
 */
import { Console, Effect, Layer } from "effect"
import { Accounts } from "./Account.ts"
import { DatabaseLive } from "./Database.ts"
import { DirectIndex } from "./DirectIndex.ts"
import { GroupCommit } from "./GroupCommit.ts"
import { Hub } from "./Hub.ts"
import { MessagesRepo } from "./MessagesRepo.ts"
import { PasswordHasher } from "./PasswordHasher.ts"
import { Presence } from "./Presence.ts"
import { Listener } from "./Server.ts"
import { ServerConfig, type ServerSettings } from "./ServerConfig.ts"
import { SessionsRepo } from "./SessionsRepo.ts"
import { TokensRepo } from "./TokensRepo.ts"
import { UsersRepo } from "./UsersRepo.ts"

const Services = Layer.mergeAll(
  Accounts.Default,
  MessagesRepo.Default,
  SessionsRepo.Default,
  UsersRepo.Default,
  TokensRepo.Default,
  // the DM index catches up through the same single writer
  DirectIndex.Default.pipe(Layer.provideMerge(GroupCommit.Default)),
  PasswordHasher.Default,
  Presence.Default,
  Hub.Default
)

const Announce = Layer.effectDiscard(
  Effect.gen(function*() {
    const { address } = yield* Listener
    const config = yield* ServerConfig
    const host = address.family === "IPv6" ? `[${address.address}]` : address.address
    // a plain line on stdout whatever the log level: people and tools wait for it
    yield* Console.log(
      `Parley listening on ${host}:${address.port} (database ${config.db}, synchronous=${config.synchronous})`
    )
  })
)

/** The whole server for the given settings; runs until interrupted. */
export const ServerLive = (settings: Partial<ServerSettings> = {}) =>
  Announce.pipe(
    Layer.provideMerge(Listener.Default),
    Layer.provide(Services),
    Layer.provide(DatabaseLive),
    Layer.provideMerge(ServerConfig.layer(settings))
  )
