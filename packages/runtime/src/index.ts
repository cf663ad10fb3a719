/** Process plumbing shared by Parley's programs. */
export * from "./RunMain.ts"
