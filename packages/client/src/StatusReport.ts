/**
 * For the scripting subcommands: lost links and logins reported on standard
 * error, so standard output carries only data.
 */
import { Effect, Stream } from "effect"
import type { ChatClient } from "./ChatClient.ts"

/**
 * Reports the client's state changes on stderr for as long as the scope
 * lives; with `announce`, the first login too ("connected as bob to …"), so
 * a person or a script knows when `listen` is listening.
 */
export const reportStates = (client: ChatClient.Service, announce = false) =>
  client.state.changes.pipe(
    Stream.runFoldEffect("starting" as "starting" | "fine" | "troubled", (status, state) =>
      Effect.sync(() => {
        if (state._tag === "Reconnecting") {
          const seconds = Math.max(0, Math.round((state.retryAt - Date.now()) / 100) / 10)
          process.stderr.write(`parley: ${state.error}; retrying in ${seconds}s\n`)
          return "troubled" as const
        }
        if (state._tag !== "Connected" || status === "fine") return status
        if (status === "troubled") process.stderr.write(`parley: reconnected as ${state.user}\n`)
        else if (announce) {
          process.stderr.write(`parley: connected as ${state.user} to ${client.options.transport.address}\n`)
        }
        return "fine" as const
      })),
    Effect.forkScoped,
    Effect.asVoid
  )
