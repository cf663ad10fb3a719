#!/usr/bin/env node
/**
 * `parley` (`pnpm start:client`): the Parley chat client (see `Main.ts`).
 * Signals are held from the first moment, so Ctrl-C while the program is still
 * loading is a clean exit too; the program itself is imported after that.
 */
import "@parley/runtime/EarlySignals"

// `ps`, `top` and `pgrep parley` show the program, not `node --import tsx ...`
process.title = "parley"
await import("./Main.ts")
