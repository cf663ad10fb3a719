/**
 * `compose.yaml` as Docker Compose reads it, without Docker: the server built
 * from this repository's Dockerfile, pointed by `PARLEY_DB` at the postgres
 * service with that service's own user, password and database, started only
 * once PostgreSQL answers, and PostgreSQL's data on a declared named volume.
 * `${VAR:-default}` is read as Compose reads it with VAR unset.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import YAML from "yaml"
import { repoRoot } from "./support/ServerProcess.ts"

type Node = Record<string, unknown>

const isNode = (value: unknown): value is Node => typeof value === "object" && value !== null && !Array.isArray(value)

const node = (value: unknown, what: string): Node => {
  assert.isTrue(isNode(value), `${what} is a mapping`)
  return value as Node
}

/** Compose's interpolation with an empty environment: defaults taken, unset variables empty, `$$` a dollar. */
const interpolate = (text: string) =>
  text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (match, _braced: string | undefined, fallback: string | undefined) => match === "$$" ? "$" : fallback ?? ""
  )

/** A service's `environment`, in either of its forms (mapping or `KEY=value` list), interpolated. */
const environmentOf = (service: Node): Record<string, string> => {
  const raw = service.environment
  const entries: Array<[string, unknown]> = Array.isArray(raw)
    ? raw.map((line) => {
      const text = String(line)
      const eq = text.indexOf("=")
      return eq < 0 ? [text, ""] : [text.slice(0, eq), text.slice(eq + 1)]
    })
    : Object.entries(node(raw, "environment"))
  return Object.fromEntries(entries.map(([key, value]) => [key, interpolate(String(value ?? ""))]))
}

/** The container ports a service publishes, from short (`"5555:5555"`) or long (`target:`) syntax. */
const publishedTargets = (service: Node): Array<number> =>
  (service.ports as Array<unknown> | undefined ?? []).map((port) => {
    if (isNode(port)) return Number(port.target)
    const spec = String(port).split("/")[0]!
    return Number(spec.slice(spec.lastIndexOf(":") + 1))
  })

/** The value after `flag` in a command line given as a list or as one shell string. */
const argAfter = (words: ReadonlyArray<string>, flag: string) => {
  const at = words.indexOf(flag)
  return at < 0 ? undefined : words[at + 1]
}

const healthcheckWords = (service: Node): Array<string> => {
  const test = node(service.healthcheck, "postgres healthcheck").test
  const words = Array.isArray(test) ? test.map(String) : ["CMD-SHELL", String(test)]
  const [kind, ...rest] = words
  // CMD-SHELL runs one string in a shell: split it into words for the checks below
  return kind === "CMD-SHELL" ? rest.join(" ").trim().split(/\s+/) : rest
}

const composeFile = Path.join(repoRoot, "compose.yaml")
// Compose reads YAML merge keys (`<<: *node`)
const compose = node(YAML.parse(Fs.readFileSync(composeFile, "utf8"), { merge: true }), "compose.yaml")
const services = node(compose.services, "services")
const parley = node(services.parley, "services.parley")
const postgres = node(services.postgres, "services.postgres")
const pgEnv = environmentOf(postgres)
const parleyEnv = environmentOf(parley)

/** The services `docker compose up` starts: those without a profile. */
const defaultServices = Object.keys(services).filter((name) => node(services[name], name).profiles === undefined)
const inProfile = (profile: string) =>
  Object.keys(services).filter((name) => {
    const profiles = node(services[name], name).profiles
    return Array.isArray(profiles) && profiles.includes(profile)
  })

describe("compose.yaml", () => {
  it("starts exactly the parley and postgres services by default", () => {
    assert.deepStrictEqual(defaultServices.sort(), ["parley", "postgres"])
  })

  it("builds parley from the repository's Dockerfile and publishes 5555", () => {
    const build = parley.build
    const context = isNode(build) ? String(build.context) : String(build)
    assert.strictEqual(context, ".")
    const dockerfile = isNode(build) && build.dockerfile !== undefined ? String(build.dockerfile) : "Dockerfile"
    assert.isTrue(Fs.existsSync(Path.join(repoRoot, context, dockerfile)), `${dockerfile} exists in the build context`)
    assert.include(publishedTargets(parley), 5555)
    assert.strictEqual(parleyEnv.PARLEY_HOST, "0.0.0.0")
    assert.strictEqual(parley.restart, "unless-stopped")
  })

  it("points PARLEY_DB at the postgres service with its user, password and database", () => {
    const db = parleyEnv.PARLEY_DB
    assert.isString(db)
    const url = new URL(db!)
    assert.strictEqual(url.protocol, "postgres:")
    assert.strictEqual(url.hostname, "postgres")
    assert.include(["", "5432"], url.port)
    assert.isNotEmpty(pgEnv.POSTGRES_USER)
    // the postgres image refuses to initialise without a password
    assert.isNotEmpty(pgEnv.POSTGRES_PASSWORD)
    assert.strictEqual(decodeURIComponent(url.username), pgEnv.POSTGRES_USER)
    assert.strictEqual(decodeURIComponent(url.password), pgEnv.POSTGRES_PASSWORD)
    assert.strictEqual(decodeURIComponent(url.pathname.slice(1)), pgEnv.POSTGRES_DB ?? pgEnv.POSTGRES_USER)
  })

  it("starts parley only once postgres is healthy", () => {
    const dependsOn = node(parley.depends_on, "parley depends_on")
    assert.strictEqual(node(dependsOn.postgres, "depends_on.postgres").condition, "service_healthy")
  })

  it("runs PostgreSQL 14 with a pg_isready healthcheck on the service's user and database", () => {
    assert.strictEqual(postgres.image, "postgres:14")
    const words = healthcheckWords(postgres)
    assert.strictEqual(words[0], "pg_isready")
    assert.strictEqual(argAfter(words, "-U"), pgEnv.POSTGRES_USER)
    assert.strictEqual(argAfter(words, "-d"), pgEnv.POSTGRES_DB)
    const healthcheck = node(postgres.healthcheck, "postgres healthcheck")
    for (const key of ["interval", "timeout", "retries"]) assert.isDefined(healthcheck[key], `healthcheck.${key}`)
  })

  it("keeps PostgreSQL's data on a named volume declared at top level", () => {
    const mounts = (postgres.volumes as Array<unknown> | undefined ?? []).map((mount) =>
      isNode(mount)
        ? { source: String(mount.source), target: String(mount.target) }
        : { source: String(mount).split(":")[0]!, target: String(mount).split(":")[1]! }
    )
    const data = mounts.find((mount) => mount.target === "/var/lib/postgresql/data")
    assert.isDefined(data, "a mount at /var/lib/postgresql/data")
    // a named volume, not a bind mount of a host path
    assert.match(data!.source, /^[A-Za-z0-9][A-Za-z0-9_.-]*$/)
    const volumes = node(compose.volumes, "top-level volumes")
    assert.isTrue(Object.hasOwn(volumes, data!.source), `volume ${data!.source} is declared at top level`)
  })
})

describe("compose.yaml, profile cluster", () => {
  const nodes = ["node1", "node2"].map((name) => node(services[name], `services.${name}`))
  const redis = node(services.redis, "services.redis")
  const balancer = node(services.balancer, "services.balancer")
  const haproxyConfig = Path.join(repoRoot, "deploy/haproxy.cfg")

  it("adds two nodes, Redis 7 and a balancer; PostgreSQL 14 is the default one", () => {
    assert.deepStrictEqual(inProfile("cluster").sort(), ["balancer", "node1", "node2", "redis"])
    assert.match(String(redis.image), /^redis:7(\.|$)/)
  })

  it("runs both nodes from the Dockerfile on the parley service's database, with the redis service as bus and their own ids", () => {
    const ids = new Set<string>()
    for (const [i, n] of nodes.entries()) {
      const env = environmentOf(n)
      assert.strictEqual(String(n.build), ".")
      assert.strictEqual(env.PARLEY_DB, parleyEnv.PARLEY_DB, `node${i + 1} shares the database`)
      assert.strictEqual(new URL(env.PARLEY_BUS!).hostname, "redis")
      assert.strictEqual(env.PARLEY_HOST, "0.0.0.0")
      ids.add(env.PARLEY_NODE_ID!)
      assert.strictEqual(node(node(n.depends_on, "depends_on").postgres, "postgres").condition, "service_healthy")
      assert.deepStrictEqual(publishedTargets(n), [], "clients come through the balancer")
    }
    assert.strictEqual(ids.size, 2, "distinct node ids")
  })

  it("publishes 5555 on HAProxy in TCP mode, with both nodes behind it and a HELLO health check", () => {
    assert.match(String(balancer.image), /^haproxy:/)
    assert.include(publishedTargets(balancer), 5555)
    const mount = (balancer.volumes as Array<unknown>).map(String).find((v) => v.includes("haproxy.cfg"))
    assert.isDefined(mount)
    assert.strictEqual(Path.resolve(repoRoot, mount!.split(":")[0]!), haproxyConfig)
    const config = Fs.readFileSync(haproxyConfig, "utf8")
    assert.match(config, /^\s*mode tcp$/m)
    assert.match(config, /^\s*bind :5555$/m)
    assert.match(config, /^\s*server node1 node1:5555/m)
    assert.match(config, /^\s*server node2 node2:5555/m)
    assert.match(config, /tcp-check expect .*HELLO/)
  })
})
