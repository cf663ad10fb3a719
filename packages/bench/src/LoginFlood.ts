/**
 * The generator's side of the login flood (`pnpm bench login --addresses`):
 * connections from several source addresses (127.0.0.1 … 127.0.0.N: another
 * address to the server's per-address limits) that each loop connect →
 * CONNECT with a password → close, every second attempt with a wrong
 * password, as a credential-stuffing flood mixed with real logins would.
 * Bounded by the job's duration; every reply and failure is counted.
 */
import { Client, type ClientHooks, nowUs, sleep } from "./Client.ts"
import type { Job, LoginFloodResult } from "./Jobs.ts"

const bump = (counts: Record<string, number>, key: string) => {
  counts[key] = (counts[key] ?? 0) + 1
}

/** How long a flood connection waits after a RATE_LIMITED or a refused connection: the client honours the server. */
const backoffMs = (retryAfterMs: unknown): number => {
  const ms = Number(retryAfterMs)
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 10), 1_000) : 50
}

export const loginFlood = async (
  job: Extract<Job, { _tag: "LoginFlood" }>,
  hooks: ClientHooks
): Promise<Omit<LoginFloodResult, "cpuMs" | "wallMs">> => {
  const replies: Record<string, number> = {}
  const errors: Record<string, number> = {}
  const deadline = nowUs() + job.durationMs * 1000
  let k = 0
  const lane = async (laneIndex: number) => {
    const localAddress = job.addresses[laneIndex % job.addresses.length]!
    for (let attempt = 0; nowUs() < deadline && attempt < 1_000_000; attempt++) {
      const account = job.accounts[k++ % job.accounts.length]!
      const client = new Client(-1, account.username, "flood", hooks)
      try {
        await client.open(job.endpoint, 10_000, localAddress)
        const wrong = attempt % 2 === 1
        const reply = await client.login({ password: wrong ? `${account.password}-wrong` : account.password })
        const key = reply.type === "ERROR" ? String(reply.code) : reply.type
        bump(replies, key)
        if (key === "RATE_LIMITED") await sleep(backoffMs(reply.retry_after_ms))
      } catch (e) {
        bump(errors, client.bye ?? (e as NodeJS.ErrnoException).code ?? (e as Error).message)
        await sleep(backoffMs(undefined))
      } finally {
        void client.close()
      }
    }
  }
  await Promise.all(Array.from({ length: job.concurrency }, (_, i) => lane(i)))
  return { replies, errors }
}
