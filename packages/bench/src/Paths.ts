/** Where things are, from this file's own location (packages/bench/src). */
import { fileURLToPath } from "node:url"

export const repoRoot = fileURLToPath(new URL("../../../", import.meta.url))
export const benchBin = fileURLToPath(new URL("./bin.ts", import.meta.url))
export const serverBin = fileURLToPath(new URL("../../server/src/bin.ts", import.meta.url))

/**
 * Runs a command under `sh` with the open-file limit raised first: one process
 * holding 10,000 sockets needs more than the usual 1024 descriptors. `exec`
 * keeps the pid, so /proc/<pid> is the Node process itself.
 */
export const withFileLimit = (argv: ReadonlyArray<string>): [string, Array<string>] => [
  "sh",
  ["-c", "ulimit -n 65536 2>/dev/null || ulimit -n \"$(ulimit -Hn)\" 2>/dev/null; exec \"$@\"", "sh", ...argv]
]
