/**
 * The generator's side of the login flood (`pnpm bench login --addresses`):
 * connections from several source addresses (127.0.0.1 … 127.0.0.N: another
 * address to the server's per-address limits) that each loop connect →
 * CONNECT with a password → close. Every second attempt guesses the password
 * of one of the even-numbered accounts (always wrong), the others log into
 * the odd-numbered ones with theirs: a credential-stuffing flood beside a
 * storm of real logins. (Guessing at the accounts that also log in would
 * never trip the failure limit: a success resets the count.) Bounded by the
 * job's duration; every reply and failure is counted.
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
  const guessed = job.accounts.filter((_, i) => i % 2 === 0)
  const genuine = job.accounts.filter((_, i) => i % 2 === 1)
  let k = 0
  const lane = async (laneIndex: number) => {
    const localAddress = job.addresses[laneIndex % job.addresses.length]!
    for (let attempt = 0; nowUs() < deadline && attempt < 1_000_000; attempt++) {
      const wrong = attempt % 2 === 1
      const pool = wrong || genuine.length === 0 ? guessed : genuine
      const account = pool[k++ % pool.length]!
      const client = new Client(-1, account.username, "flood", hooks)
      try {
        await client.open(job.endpoint, 10_000, localAddress)
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
