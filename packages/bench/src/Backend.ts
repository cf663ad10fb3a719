/**
 * Where a Parley server started by the bench stores everything (`--db`):
 * SQLite, a file in a fresh temp directory (the default), or PostgreSQL,
 * where the URL given is an admin URL: each server gets a database of its
 * own, `parley_bench_<random>`, created on that PostgreSQL server before it
 * starts and dropped once it has stopped, so every run starts as empty as a
 * new SQLite file. A URL's password is never printed: only `redactUrl`'s
 * form of it, or host and port, go into reports and errors.
 */
import { randomBytes } from "node:crypto"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import Pg from "pg"

export type Backend =
  | { readonly kind: "sqlite" }
  | { readonly kind: "postgres"; readonly adminUrl: string }

export const sqlite: Backend = { kind: "sqlite" }

const POSTGRES = /^postgres(ql)?:\/\//i

/**
 * The backends of `--db` (repeatable), in the order given: `sqlite`, or a
 * postgres:// (postgresql://) URL. None means SQLite alone. At most one of
 * each, because each names the Parley server it measures (`serverName`).
 */
export const parseBackends = (values: ReadonlyArray<string>): Array<Backend> => {
  const backends = values.map((value): Backend => {
    if (value.toLowerCase() === "sqlite") return sqlite
    if (!POSTGRES.test(value)) {
      throw new Error(
        `--db ${redactUrl(value)}: give sqlite or a postgres:// URL (a database on which to create others)`
      )
    }
    try {
      new URL(value)
    } catch {
      throw new Error(`--db ${redactUrl(value)} is not a URL`)
    }
    return { kind: "postgres", adminUrl: value }
  })
  for (const kind of ["sqlite", "postgres"] as const) {
    if (backends.filter((b) => b.kind === kind).length > 1) {
      throw new Error(`--db ${kind} given twice: one of each at most`)
    }
  }
  return backends
}

/** The name a server's figures go under: `parley` on SQLite (as before PostgreSQL existed), `parley-pg` on PostgreSQL. */
export const serverName = (backend: Backend): string => (backend.kind === "sqlite" ? "parley" : "parley-pg")

/** The URL with its password replaced by `***`, for anything printed. */
export const redactUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password === "") return url
    parsed.password = "***"
    return parsed.toString()
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@]*@/, "//$1:***@")
  }
}

/** The same server, user, password and parameters as `adminUrl`, on database `name`. */
export const databaseUrl = (adminUrl: string, name: string): string => {
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  return url.toString()
}

/** `host:port` of a PostgreSQL URL (the defaults when absent), for reports. */
export const serverOf = (url: string): string => {
  const parsed = new URL(url)
  const host = parsed.hostname !== "" ? parsed.hostname : parsed.searchParams.get("host") ?? "localhost"
  return `${host}:${parsed.port !== "" ? parsed.port : "5432"}`
}

/** A fresh database name; lower case letters, digits and `_`, so it needs no quoting anywhere. */
export const freshDatabaseName = (random: string = randomBytes(4).toString("hex")): string => `parley_bench_${random}`

/** A server's own store, made for it before it starts. */
export interface Store {
  /** What Parley gets as `--db`. */
  readonly db: string
  /** What the report says about it (no password). */
  readonly description: string
  /** Removes it; the server must have stopped. */
  readonly remove: () => Promise<void>
}

const withAdmin = async <A>(adminUrl: string, f: (client: Pg.Client) => Promise<A>): Promise<A> => {
  const client = new Pg.Client({
    connectionString: adminUrl,
    application_name: "parley-bench",
    connectionTimeoutMillis: 10_000
  })
  // an error after connecting (the server going away) must not crash the bench: the query reports it
  client.on("error", () => {})
  try {
    await client.connect()
    return await f(client)
  } finally {
    await client.end().catch(() => {})
  }
}

/** Why talking to PostgreSQL failed, with the URL redacted (the driver's messages never contain the password). */
const failure = (what: string, adminUrl: string, e: unknown): Error =>
  new Error(`${what} on ${redactUrl(adminUrl)}: ${e instanceof Error ? e.message : String(e)}`)

/** Makes a store for one server: a temp directory, or a new database on the PostgreSQL server. */
export const createStore = async (backend: Backend): Promise<Store> => {
  if (backend.kind === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "parley-bench-"))
    return {
      db: join(dir, "bench.db"),
      description: "SQLite (a temp file)",
      remove: async () => rmSync(dir, { recursive: true, force: true })
    }
  }
  const { adminUrl } = backend
  const name = freshDatabaseName()
  const version = await withAdmin(adminUrl, async (client) => {
    const v = await client.query<{ server_version: string }>("SHOW server_version")
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`)
    return v.rows[0]?.server_version ?? "?"
  }).catch((e: unknown) => {
    throw failure(`creating database ${name}`, adminUrl, e)
  })
  return {
    db: databaseUrl(adminUrl, name),
    description: `PostgreSQL ${version.split(" ")[0]} at ${
      serverOf(adminUrl)
    } (database ${name}, dropped when the server stops)`,
    remove: () =>
      withAdmin(adminUrl, async (client) => {
        // FORCE: connections of a server that was killed rather than stopped may linger
        await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`)
      }).catch((e: unknown) => {
        throw failure(`dropping database ${name} (drop it by hand)`, adminUrl, e)
      })
  }
}
