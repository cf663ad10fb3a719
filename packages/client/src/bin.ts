#!/usr/bin/env node
/**
 * `parley` (`pnpm start:client`): the Parley chat client.
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Effect } from "effect"
import { run } from "./Cli.ts"

run(process.argv).pipe(
  Effect.tapError((error) =>
    Effect.sync(() => {
      // option errors are already printed by @effect/cli with the usage
      if (error._tag === "ChatEnded") process.stderr.write(`parley: ${error.message}\n`)
    })
  ),
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({ disableErrorReporting: true })
)
