/**
 * Accounts: registration and login, by password (argon2id) or by token.
 * Every way a login can fail reads the same `AUTH_FAILED`, and an unknown
 * or malformed name costs the same hash as a wrong password.
 */
import { AuthFailed, RateLimited, USERNAME_PATTERN, UsernameTaken } from "@parley/protocol"
import { Clock, DateTime, Effect, Option } from "effect"
import { createHash, randomBytes } from "node:crypto"
import { GroupCommit } from "./GroupCommit.ts"
import { PasswordHasher } from "./PasswordHasher.ts"
import { RoomsRepo } from "./RoomsRepo.ts"
import { ServerConfig } from "./ServerConfig.ts"
import { TokensRepo } from "./TokensRepo.ts"
import { UsersRepo } from "./UsersRepo.ts"

export interface Identity {
  readonly userId: number
  readonly username: string
  readonly token: string
}

export type Credentials = { readonly password: string } | { readonly token: string }

const authFailed = new AuthFailed({ message: "unknown user or wrong password/token" })

const accountLocked = new AuthFailed({ message: "this account is locked" })

/** How a token is stored (and named in `sessions.token_hash`): its SHA-256, in hex. */
export const hashToken = (token: string) => createHash("sha256").update(token).digest("hex")

export class Accounts extends Effect.Service<Accounts>()("@parley/server/Accounts", {
  effect: Effect.gen(function*() {
    const users = yield* UsersRepo
    const rooms = yield* RoomsRepo
    const tokens = yield* TokensRepo
    const hasher = yield* PasswordHasher
    const commit = yield* GroupCommit
    const config = yield* ServerConfig
    const ttlMs = config.tokenTtlDays * 24 * 60 * 60 * 1000

    /** `address`: the client's, whose turn the password hash waits for (PasswordHasher). */
    const register = Effect.fn("Accounts.register")(function*(username: string, password: string, address: string) {
      if (Option.isSome(yield* users.findByName(username))) {
        return yield* new UsernameTaken({ message: `the name ${username} is taken` })
      }
      const phc = yield* hasher.hash(address, password)
      const now = DateTime.formatIso(yield* DateTime.now)
      const created = yield* commit.write(
        Effect.tap(
          users.create(username, phc, now),
          (id) => Option.isSome(id) ? rooms.startGeneral(id.value, now) : Effect.void
        )
      )
      if (Option.isNone(created)) return yield* new UsernameTaken({ message: `the name ${username} is taken` })
      return username
    })

    const issueToken = (userId: number) =>
      Effect.gen(function*() {
        const token = randomBytes(32).toString("base64url")
        const now = yield* Clock.currentTimeMillis
        yield* commit.write(
          tokens.insert(hashToken(token), userId, new Date(now).toISOString(), new Date(now + ttlMs).toISOString())
        )
        return token
      })

    const loginWithPassword = (username: string, password: string, address: string) =>
      Effect.gen(function*() {
        const row = USERNAME_PATTERN.test(username) ? yield* users.findByName(username) : Option.none()
        if (Option.isNone(row)) {
          yield* hasher.decoy(address, password)
          return yield* authFailed
        }
        if (!(yield* hasher.verify(address, row.value.password_hash, password))) return yield* authFailed
        // said only to whoever knows the password
        if ((yield* users.standing(row.value.id)).lockedAt !== null) return yield* accountLocked
        const token = yield* issueToken(row.value.id)
        return { userId: row.value.id, username: row.value.username, token }
      })

    const loginWithToken = (username: string, token: string) =>
      Effect.gen(function*() {
        if (!USERNAME_PATTERN.test(username)) return yield* authFailed
        // expiry is judged by the server's Clock (a TestClock in tests)
        const owner = yield* tokens.find(hashToken(token), DateTime.formatIso(yield* DateTime.now))
        const account = yield* users.resolve(username)
        if (Option.isNone(owner) || Option.isNone(account) || owner.value !== account.value.id) {
          return yield* authFailed
        }
        return { userId: account.value.id, username: account.value.username, token }
      })

    const login: (
      username: string,
      credentials: Credentials,
      address: string
    ) => Effect.Effect<Identity, AuthFailed | RateLimited> = Effect.fn("Accounts.login")(
      function*(username: string, credentials: Credentials, address: string) {
        return "password" in credentials
          ? yield* loginWithPassword(username, credentials.password, address)
          : yield* loginWithToken(username, credentials.token)
      }
    )

    return { register, login } as const
  })
}) {}
