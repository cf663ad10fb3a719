import * as Net from "node:net"
import { defineConfig } from "vitest/config"
import projects, { serverCluster, serverOnPostgres } from "./vitest.workspace.ts"

const pgUrl = new URL(process.env.PARLEY_TEST_PG ?? "postgres://postgres@127.0.0.1:5432/postgres")
const redisUrl = new URL(process.env.PARLEY_TEST_REDIS ?? "redis://127.0.0.1:6379")

/** Whether something listens where the tests' PostgreSQL should be. */
const reachable = (host: string, port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = Net.connect({ host, port, timeout: 2000 })
    const done = (ok: boolean) => {
      socket.destroy()
      resolve(ok)
    }
    socket.once("connect", () => done(true))
    socket.once("error", () => done(false))
    socket.once("timeout", () => done(false))
  })

export default defineConfig(async () => {
  const pg = await reachable(pgUrl.hostname, Number(pgUrl.port || 5432))
  // under CI the PostgreSQL suites always run, and fail if it is down
  const withPg = pg || process.env.CI === "true"
  // said once: the workers inherit the mark, and the config is read again per project
  if (!withPg && process.env.PARLEY_TEST_PG_SKIPPED !== "1") {
    process.stderr.write(
      `PostgreSQL is not reachable at ${pgUrl.host}: skipping the PostgreSQL variants (server-postgres, the storage contract, copy-db, the PostgreSQL outage)\n`
    )
  }
  if (!withPg) process.env.PARLEY_TEST_PG_SKIPPED = "1"
  // the cluster suites need PostgreSQL and Redis; under CI both, and they fail if either is down
  const redis = await reachable(redisUrl.hostname, Number(redisUrl.port || 6379))
  const withCluster = (pg && redis) || process.env.CI === "true"
  if (!withCluster && process.env.PARLEY_TEST_REDIS_SKIPPED !== "1") {
    process.stderr.write(
      `${
        pg ? `Redis is not reachable at ${redisUrl.host}` : "PostgreSQL is not reachable"
      }: skipping the cluster suites (server-cluster, Cluster)\n`
    )
  }
  if (!withCluster) process.env.PARLEY_TEST_REDIS_SKIPPED = "1"
  return {
    test: {
      projects: [...projects, ...(withPg ? [serverOnPostgres] : []), ...(withCluster ? [serverCluster] : [])],
      testTimeout: 30_000,
      hookTimeout: 30_000,
      // the suites talk over real sockets and spawn real servers: keep the 2-core machine responsive
      pool: "forks",
      // every test is listed, property tests with their run counts
      reporters: ["verbose"]
    }
  }
})
