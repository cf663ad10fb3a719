/**
 * @parley/bench: the load generator and benchmark suite. `src/bin.ts` is the
 * CLI; these are its parts for reuse and tests.
 */
export * from "./Baseline.ts"
export * from "./Histogram.ts"
export * from "./KneeSearch.ts"
export * from "./ProcStats.ts"
export * from "./Report.ts"
