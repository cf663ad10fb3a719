/**
 * `pnpm bench [scenario] [flags]`: Parley's benchmark (see `Cli.ts`, or
 * `pnpm bench --help`). The bench's own child processes, the load generator
 * and the baseline server, skip loading the command line: they start many
 * times per run and only need their own module.
 */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { invokedAs, withCleanCliOutput } from "@parley/runtime"
import { Effect } from "effect"

const sub = process.argv[2]
if (sub === "generator" && process.send !== undefined) {
  const { serveOverIpc } = await import("./Generator.ts")
  await serveOverIpc()
} else {
  const { cli } = await import("./Cli.ts")
  cli(process.argv).pipe(
    // help for people, as the server's and the client's: no ANSI in a pipe, the usage line as it was run
    withCleanCliOutput({ program: "bench", invokedAs: invokedAs("bench", "bench") }),
    Effect.provide(NodeContext.layer),
    NodeRuntime.runMain
  )
}
