/**
 * PostgreSQL for tests: the machine's server (127.0.0.1:5432, trust auth; or
 * `PARLEY_TEST_PG` as an admin URL), a fresh database per test created and
 * dropped by the test's scope.
 *
 * Without a reachable server the PostgreSQL variants are skipped, with one
 * line saying so; under CI (`CI=true`) an unreachable server fails the run.
 */
import { Effect, type Scope } from "effect"
import { randomBytes } from "node:crypto"
import Pg from "pg"

export const adminUrl = process.env.PARLEY_TEST_PG ?? "postgres://postgres@127.0.0.1:5432/postgres"

const probe = async (): Promise<string | undefined> => {
  const client = new Pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 2000 })
  try {
    await client.connect()
    await client.query("SELECT 1")
    return undefined
  } catch (error) {
    return error instanceof Error ? error.message : String(error)
  } finally {
    await client.end().catch(() => {})
  }
}

const problem = await probe()
if (problem !== undefined) {
  const line = `PostgreSQL at ${adminUrl.replace(/:[^:@/]*@/, ":***@")} is unreachable (${problem})`
  if (process.env.CI === "true") {
    throw new Error(`${line}: CI runs the PostgreSQL variants (see DEVELOPERS.md to start it)`)
  }
  // vitest.config.ts has said so already when it saw nothing listening
  if (process.env.PARLEY_TEST_PG_SKIPPED !== "1") process.stderr.write(`${line}: skipping the PostgreSQL variants\n`)
}

/** Whether the PostgreSQL variants run here. */
export const postgresAvailable = problem === undefined

const admin = <A>(f: (client: Pg.Client) => Promise<A>) =>
  Effect.promise(async () => {
    const client = new Pg.Client({ connectionString: adminUrl })
    await client.connect()
    try {
      return await f(client)
    } finally {
      await client.end()
    }
  })

/** A fresh, empty database, dropped (its connections closed) with the scope; returns its URL. */
export const freshPgDatabase: Effect.Effect<string, never, Scope.Scope> = Effect.acquireRelease(
  Effect.gen(function*() {
    const name = `parley_test_${randomBytes(6).toString("hex")}`
    yield* admin((c) => c.query(`CREATE DATABASE ${name}`))
    const url = new URL(adminUrl)
    url.pathname = `/${name}`
    return url.toString()
  }),
  (url) => admin((c) => c.query(`DROP DATABASE IF EXISTS ${new URL(url).pathname.slice(1)} WITH (FORCE)`))
)
