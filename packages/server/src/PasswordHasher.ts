/**
 * Password hashing with argon2id at OWASP's parameters (19 MiB, t=2, p=1),
 * stored in PHC format. Hashes run on libuv's thread pool, a bounded number
 * at once, so a login storm can neither exhaust memory nor stall the event
 * loop; past a bounded queue, callers are told to come back later.
 *
 * The queue is shared fairly between addresses: each address (IPv6 per /64)
 * waits in a line of its own, and the free slots go round the lines in turn.
 * One host keeping hundreds of logins in flight then delays someone from
 * another address by at most one hash per busy address, not by its whole
 * backlog (a plain FIFO made a real user wait 44 s behind 600 bad CONNECTs).
 * One address may have at most `hashQueueLimit / 8` hashes waiting.
 */
import { type Algorithm, hash, verify } from "@node-rs/argon2"
import { RateLimited } from "@parley/protocol"
import { Effect } from "effect"
import { addressKey } from "./AddressKey.ts"
import { Metrics } from "./Metrics.ts"
import { ServerConfig } from "./ServerConfig.ts"

// Algorithm is an ambient const enum: 2 is Argon2id
const options = { algorithm: 2 as Algorithm.Argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const

interface Job {
  readonly start: () => void
}

export class PasswordHasher extends Effect.Service<PasswordHasher>()("@parley/server/PasswordHasher", {
  effect: Effect.gen(function*() {
    const config = yield* ServerConfig
    const perAddressLimit = Math.max(1, Math.ceil(config.hashQueueLimit / 8))
    // one line per address, in the order they are served next (a Map keeps insertion order)
    const lines = new Map<string, Array<Job>>()
    let running = 0
    let waiting = 0
    let averageMs = 20
    const metrics = yield* Metrics
    metrics.source("hashesWaiting", () => waiting)
    metrics.source("hashesRunning", () => running)

    const pump = () => {
      while (running < config.hashConcurrency && lines.size > 0) {
        const [key, jobs] = lines.entries().next().value as [string, Array<Job>]
        const job = jobs.shift()!
        // this address goes to the back of the round
        lines.delete(key)
        if (jobs.length > 0) lines.set(key, jobs)
        waiting--
        running++
        job.start()
      }
    }

    const busy = (message: string, queued: number) =>
      new RateLimited({ message, retryAfterMs: Math.max(1, Math.ceil((queued * averageMs) / config.hashConcurrency)) })

    const bounded = <A>(address: string, work: () => Promise<A>): Effect.Effect<A, RateLimited> =>
      Effect.async<A, RateLimited>((resume) => {
        if (waiting >= config.hashQueueLimit) {
          return resume(Effect.fail(busy("the server is busy checking passwords; retry later", waiting)))
        }
        const key = addressKey(address)
        const line = lines.get(key) ?? []
        if (line.length >= perAddressLimit) {
          return resume(
            Effect.fail(busy("too many password checks waiting from this address; retry later", line.length))
          )
        }
        const job: Job = {
          start: () => {
            // the real time a hash took (the Clock, a TestClock in tests, would not see it pass)
            const started = performance.now()
            work().then(
              (a) => resume(Effect.succeed(a)),
              (error) => resume(Effect.die(error))
            ).finally(() => {
              averageMs = averageMs * 0.9 + (performance.now() - started) * 0.1
              running--
              pump()
            })
          }
        }
        line.push(job)
        if (!lines.has(key)) lines.set(key, line)
        waiting++
        pump()
        // interrupted while still waiting: leave the line (a running hash finishes on its own)
        return Effect.sync(() => {
          const current = lines.get(key)
          const at = current === undefined ? -1 : current.indexOf(job)
          if (at === -1) return
          current!.splice(at, 1)
          waiting--
          if (current!.length === 0) lines.delete(key)
        })
      })

    // a hash to verify against when the user does not exist, so that case costs the same time
    const decoy = yield* Effect.promise(() => hash("parley-decoy-password", options))

    return {
      hash: (address: string, password: string) => bounded(address, () => hash(password, options)),
      verify: (address: string, phc: string, password: string) =>
        bounded(address, () => verify(phc, password).catch(() => false)),
      /** Burns one verification's time for a login that cannot succeed. */
      decoy: (address: string, password: string) => bounded(address, () => verify(decoy, password).catch(() => false))
    } as const
  })
}) {}
