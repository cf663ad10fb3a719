/**
 * Redis for the cluster tests: the machine's server (127.0.0.1:6379, or
 * `PARLEY_TEST_REDIS` as a URL). Without a reachable server the cluster
 * tests are skipped, with one line saying so; under CI (`CI=true`) an
 * unreachable server fails the run.
 */
import * as Net from "node:net"

export const testRedis = process.env.PARLEY_TEST_REDIS ?? "redis://127.0.0.1:6379"

/** Sends PING; undefined when PONG comes back within 2 s, else what went wrong. */
const probe = (): Promise<string | undefined> =>
  new Promise((resolve) => {
    const url = new URL(testRedis)
    const socket = Net.connect({ host: url.hostname, port: Number(url.port || 6379) })
    const done = (problem: string | undefined) => {
      socket.destroy()
      resolve(problem)
    }
    socket.setTimeout(2000, () => done("no answer within 2 s"))
    socket.once("error", (error) => done(error.message))
    socket.once("connect", () => socket.write("PING\r\n"))
    socket.once("data", (data) => done(data.toString().startsWith("+PONG") ? undefined : `answered ${data}`))
  })

const problem = await probe()
if (problem !== undefined) {
  const line = `Redis at ${testRedis} is unreachable (${problem})`
  if (process.env.CI === "true") throw new Error(`${line}: CI runs the cluster tests (see DEVELOPERS.md to start it)`)
  if (process.env.PARLEY_TEST_REDIS_SKIPPED !== "1") process.stderr.write(`${line}: skipping the cluster tests\n`)
}

/** Whether the cluster tests run here. */
export const redisAvailable = problem === undefined
