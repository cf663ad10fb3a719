/**
 * Imported first by each program's `bin.ts`, before the rest of the program
 * loads (about a second from sources): a SIGINT or SIGTERM in that time is held
 * here instead of killing the process, and `runMain` acts on it as soon as it
 * takes over. No imports, so it is in place within milliseconds of Node starting.
 */
const held: Array<NodeJS.Signals> = []
const hold = (signal: NodeJS.Signals) => void held.push(signal)

process.on("SIGINT", hold)
process.on("SIGTERM", hold)

/** Stops holding signals; returns those that arrived meanwhile, oldest first. */
export const releaseEarlySignals = (): ReadonlyArray<NodeJS.Signals> => {
  process.off("SIGINT", hold)
  process.off("SIGTERM", hold)
  return held.splice(0)
}
