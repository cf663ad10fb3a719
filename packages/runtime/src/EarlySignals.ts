/**
 * Imported first by each program's `bin.ts`, before the rest of the program
 * loads (about a second from sources): a SIGINT, SIGTERM or SIGHUP in that time
 * is held here instead of killing the process, and `runMain` acts on it as soon
 * as it takes over. No imports, so it is in place within milliseconds of Node
 * starting. SIGHUP is held too because a server reloads its certificate on it:
 * a certificate renewal that lands while the server starts must not kill it.
 */
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const
const held: Array<NodeJS.Signals> = []
const hold = (signal: NodeJS.Signals) => void held.push(signal)

for (const signal of SIGNALS) process.on(signal, hold)

/** Stops holding signals; returns those that arrived meanwhile, oldest first. */
export const releaseEarlySignals = (): ReadonlyArray<NodeJS.Signals> => {
  for (const signal of SIGNALS) process.off(signal, hold)
  return held.splice(0)
}
