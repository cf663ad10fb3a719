import { defineConfig } from "vitest/config"
import projects from "./vitest.workspace.ts"

export default defineConfig({
  test: {
    projects,
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // the suites talk over real sockets and spawn real servers: keep the 2-core machine responsive
    pool: "forks",
    // every test is listed, property tests with their run counts
    reporters: ["verbose"]
  }
})
