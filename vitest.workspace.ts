/**
 * The test projects, one per package, and the server's suites again on
 * PostgreSQL. Vitest 3.2 deprecates reading this file on its own, so
 * `vitest.config.ts` takes its `test.projects` from here.
 */
const pkg = (name: string) => ({
  extends: true as const,
  test: {
    name,
    root: `./packages/${name}`,
    include: ["test/**/*.test.ts"]
  }
})

/**
 * The server's black-box suites (real TCP, the real process) with every
 * server on a fresh PostgreSQL database instead of a SQLite file. Suites about
 * SQLite itself (its file, WAL, DM index, signals on the README command) run
 * once, in `server`.
 */
export const serverOnPostgres = {
  extends: true as const,
  test: {
    name: "server-postgres",
    root: "./packages/server",
    include: [
      "test/Accounts.test.ts",
      "test/Admins.test.ts",
      "test/Framing.test.ts",
      "test/History.test.ts",
      "test/Limits.test.ts",
      "test/Messages.test.ts",
      "test/Operations.test.ts",
      "test/Presence.test.ts",
      "test/Receipts.test.ts",
      "test/Replay.test.ts",
      "test/Rooms.test.ts",
      "test/RoomsModel.test.ts",
      "test/Sessions.test.ts"
    ],
    env: { PARLEY_TEST_DB: "postgres" }
  }
}

/**
 * The server's contract suites again with every test's server a 2-node
 * cluster (PostgreSQL and the machine's Redis) behind a round-robin
 * balancer: every rule holds across nodes, whichever node each client lands on.
 */
export const serverCluster = {
  extends: true as const,
  test: {
    name: "server-cluster",
    root: "./packages/server",
    include: [
      "test/Accounts.test.ts",
      "test/Admins.test.ts",
      "test/Framing.test.ts",
      "test/History.test.ts",
      "test/Messages.test.ts",
      "test/Presence.test.ts",
      "test/Receipts.test.ts",
      "test/Replay.test.ts",
      "test/Rooms.test.ts",
      "test/Sessions.test.ts"
    ],
    env: { PARLEY_TEST_DB: "postgres", PARLEY_TEST_CLUSTER: "2" }
  }
}

export default [pkg("protocol"), pkg("runtime"), pkg("testkit"), pkg("server"), pkg("client"), pkg("bench"), pkg("web")]
