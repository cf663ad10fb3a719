#!/usr/bin/env node
/**
 * `parley-server` (`pnpm start:server`): runs the Parley chat server (see `Main.ts`).
 * Signals are held from the first moment, so Ctrl-C while the program is still
 * loading is a clean exit too; the program itself is imported after that.
 */
import "@parley/runtime/EarlySignals"

// `ps`, `top` and `pgrep parley-server` show the program, not `node --import tsx ...`
process.title = "parley-server"
await import("./Main.ts")
