/**
 * The `parley` program: its command line under a main that ends it cleanly on
 * SIGINT/SIGTERM.
 */
import { CliConfig } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { invokedAs, runMain, withCleanCliOutput } from "@parley/runtime"
import { Effect } from "effect"
import { run } from "./Cli.ts"

run(process.argv).pipe(
  // help for people: no filler, no ANSI in a pipe, none of the wizard/completions/log-level built-ins
  withCleanCliOutput({ program: "parley", invokedAs: invokedAs("parley", "start:client") }),
  Effect.provide(CliConfig.layer({ showBuiltIns: false })),
  Effect.tapError((error) =>
    Effect.sync(() => {
      // option errors are already printed by @effect/cli with the usage
      if (error._tag === "ChatEnded") process.stderr.write(`parley: ${error.message}\n`)
    })
  ),
  Effect.provide(NodeContext.layer),
  (main) => runMain(main, { name: "parley", graceMs: 5_000, prettyLogger: true })
)
