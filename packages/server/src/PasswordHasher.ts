/**
 * Password hashing with argon2id at OWASP's parameters (19 MiB, t=2, p=1),
 * stored in PHC format. Hashes run on libuv's thread pool, a bounded number
 * at once, so a login storm can neither exhaust memory nor stall the event
 * loop; past a bounded queue, callers are told to come back later.
 */
import { type Algorithm, hash, verify } from "@node-rs/argon2"
import { RateLimited } from "@parley/protocol"
import { Effect } from "effect"
import { ServerConfig } from "./ServerConfig.ts"

// Algorithm is an ambient const enum: 2 is Argon2id
const options = { algorithm: 2 as Algorithm.Argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 } as const

export class PasswordHasher extends Effect.Service<PasswordHasher>()("@parley/server/PasswordHasher", {
  effect: Effect.gen(function*() {
    const config = yield* ServerConfig
    const slots = yield* Effect.makeSemaphore(config.hashConcurrency)
    let waiting = 0
    let averageMs = 20

    const bounded = <A>(work: () => Promise<A>): Effect.Effect<A, RateLimited> =>
      Effect.suspend(() => {
        if (waiting >= config.hashQueueLimit) {
          const retryAfterMs = Math.ceil((waiting * averageMs) / config.hashConcurrency)
          return Effect.fail(
            new RateLimited({ message: "the server is busy checking passwords; retry later", retryAfterMs })
          )
        }
        waiting++
        return slots.withPermits(1)(
          Effect.promise(() => {
            const started = performance.now()
            return work().finally(() => {
              averageMs = averageMs * 0.9 + (performance.now() - started) * 0.1
            })
          })
        ).pipe(Effect.ensuring(Effect.sync(() => waiting--)))
      })

    // a hash to verify against when the user does not exist, so that case costs the same time
    const decoy = yield* Effect.promise(() => hash("parley-decoy-password", options))

    return {
      hash: (password: string) => bounded(() => hash(password, options)),
      verify: (phc: string, password: string) => bounded(() => verify(phc, password).catch(() => false)),
      /** Burns one verification's time for a login that cannot succeed. */
      decoy: (password: string) => bounded(() => verify(decoy, password).catch(() => false))
    } as const
  })
}) {}
