/** Process plumbing shared by Parley's programs. */
export * from "./CliOutput.ts"
export * from "./RunMain.ts"
