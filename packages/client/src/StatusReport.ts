/**
 * For the scripting subcommands: lost links and logins reported on standard
 * error, so standard output carries only data.
 */
import { Effect, Stream } from "effect"
import type { ChatClient } from "./ChatClient.ts"

/** Reports the client's state changes on stderr for as long as the scope lives. */
export const reportStates = (client: ChatClient.Service) =>
  client.state.changes.pipe(
    Stream.runFoldEffect(false, (troubled: boolean, state) =>
      Effect.sync(() => {
        if (state._tag === "Reconnecting") {
          const seconds = Math.max(0, Math.round((state.retryAt - Date.now()) / 100) / 10)
          process.stderr.write(`parley: ${state.error}; retrying in ${seconds}s\n`)
          return true
        }
        if (state._tag === "Connected" && troubled) {
          process.stderr.write(`parley: reconnected as ${state.user}\n`)
          return false
        }
        return troubled
      })),
    Effect.forkScoped,
    Effect.asVoid
  )
