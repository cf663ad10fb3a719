/**
 * The `parley-server` program: its command line, and the server under a main
 * that shuts it down gracefully on SIGINT/SIGTERM.
 */
import { Args, CliConfig, Command, Options, ValidationError } from "@effect/cli"
import { NodeContext } from "@effect/platform-node"
import { invokedAs, runMain, withCleanCliOutput } from "@parley/runtime"
import { Cause, Config, Console, Data, Effect, Layer, Logger, LogLevel, Option } from "effect"
import * as Path from "node:path"
import { admin, AdminError } from "./Admins.ts"
import { isRedisUrl } from "./Bus.ts"
import { copyDb, CopyDbError } from "./CopyDb.ts"
import { isPostgresUrl, redactUrl } from "./PgDatabase.ts"
import { checkPorts, listenProblem, type PortToCheck } from "./PortCheck.ts"
import { DEFAULT_TLS_PORT, defaults, generatedNodeId, type TlsSettings, type WebSettings } from "./ServerConfig.ts"
import { ServerLive } from "./ServerLive.ts"
import { describeFault, isDatabaseError } from "./StorageHealth.ts"
import { loadCredentials } from "./Tls.ts"
import { defaultWebRoot, normalizeOrigin } from "./WebServer.ts"

const withEnv = <A>(options: Options.Options<A>, config: Config.Config<A>, fallback: A) =>
  options.pipe(Options.withFallbackConfig(Config.withDefault(config, fallback)))

const host = withEnv(
  Options.text("host").pipe(
    Options.withDescription(
      "Address to listen on (env PARLEY_HOST; default 127.0.0.1). Use 0.0.0.0 to accept other machines."
    )
  ),
  Config.string("PARLEY_HOST"),
  defaults.host
)
const port = withEnv(
  Options.text("port").pipe(
    Options.withDescription(
      "TCP port (env PARLEY_PORT; default 5555; 0 picks a free one). off: no plain TCP, TLS only (needs --tls-cert and --tls-key)."
    )
  ),
  Config.string("PARLEY_PORT"),
  String(defaults.port)
)
/** A file flag that may be absent; an empty environment variable counts as absent. */
const optionalFile = (name: string, env: string, description: string) =>
  Options.text(name).pipe(
    Options.withDescription(description),
    Options.optional,
    Options.withFallbackConfig(Config.option(Config.string(env))),
    Options.map(Option.filter((file) => file !== ""))
  )
const tlsCert = optionalFile(
  "tls-cert",
  "PARLEY_TLS_CERT",
  "PEM certificate (chain) for TLS, e.g. /etc/letsencrypt/live/<host>/fullchain.pem (env PARLEY_TLS_CERT). With --tls-key the server also listens with TLS (1.2 or later) on --tls-port; SIGHUP reads both files again without closing any connection."
)
const tlsKey = optionalFile(
  "tls-key",
  "PARLEY_TLS_KEY",
  "PEM private key of --tls-cert, e.g. /etc/letsencrypt/live/<host>/privkey.pem (env PARLEY_TLS_KEY)."
)
const tlsPort = withEnv(
  Options.integer("tls-port").pipe(
    Options.withDescription(
      "TLS port, on the same --host, used with --tls-cert and --tls-key (env PARLEY_TLS_PORT; default 5556; 0 picks a free one)."
    )
  ),
  // Config.port refuses 0, which picks a free port
  Config.integer("PARLEY_TLS_PORT"),
  DEFAULT_TLS_PORT
)
const db = withEnv(
  Options.text("db").pipe(
    Options.withDescription(
      "Where to store everything (env PARLEY_DB; default chat_server.db): a SQLite file, created if missing, or a postgres:// or postgresql:// URL, which selects PostgreSQL (the database must exist; its tables are created). The password in a URL is never logged."
    )
  ),
  Config.string("PARLEY_DB"),
  defaults.db
)
const bus = optionalFile(
  "bus",
  "PARLEY_BUS",
  "The cluster's bus, a redis:// (or rediss://) URL (env PARLEY_BUS; default none: this process is the whole service). Every server started with the same PostgreSQL --db and the same --bus is a node of one chat service; see docs/operations.md, \"A cluster\"."
)
const nodeId = optionalFile(
  "node-id",
  "PARLEY_NODE_ID",
  "This node's name in logs and in the sessions it holds (env PARLEY_NODE_ID; default: the host name and a random suffix, logged at start). A node restarted with the same id closes the sessions its previous run left open at once."
)
const msgRate = withEnv(
  Options.integer("msg-rate").pipe(
    Options.withDescription(
      "Messages per second per connection, sustained (env PARLEY_MSG_RATE; default 20). A faster client is slowed, not refused; 0 turns flood control off."
    )
  ),
  Config.integer("PARLEY_MSG_RATE"),
  defaults.msgRate
)
const msgBurst = withEnv(
  Options.integer("msg-burst").pipe(
    Options.withDescription(
      "Messages a connection may send at once before --msg-rate applies (env PARLEY_MSG_BURST; default 100)."
    )
  ),
  Config.integer("PARLEY_MSG_BURST"),
  defaults.msgBurst
)
const loginFailures = withEnv(
  Options.integer("login-failures").pipe(
    Options.withDescription(
      "Failed logins allowed per (username, address) in any sliding 60 s (env PARLEY_LOGIN_FAILURES; default 5). Past it, CONNECT for that name from that address gets RATE_LIMITED without a password hash being computed; a successful login resets the count; 0 turns it off."
    )
  ),
  Config.integer("PARLEY_LOGIN_FAILURES"),
  defaults.loginFailures
)
const registerRate = withEnv(
  Options.integer("register-rate").pipe(
    Options.withDescription(
      "Accounts one address may create in any sliding 10 minutes (env PARLEY_REGISTER_RATE; default 5). Past it REGISTER gets RATE_LIMITED; an IPv6 address counts per /64; 0 turns it off."
    )
  ),
  Config.integer("PARLEY_REGISTER_RATE"),
  defaults.registerRate
)
const maxConnsPerIp = withEnv(
  Options.integer("max-conns-per-ip").pipe(
    Options.withDescription(
      "Connections one address may hold at once (env PARLEY_MAX_CONNS_PER_IP; default 64; an IPv6 address counts per /64). One more gets BYE too_many_connections instead of HELLO and is closed; 0 turns it off."
    )
  ),
  Config.integer("PARLEY_MAX_CONNS_PER_IP"),
  defaults.maxConnsPerIp
)
const authTimeout = withEnv(
  Options.integer("auth-timeout").pipe(
    Options.withDescription(
      "Seconds from accept within which a connection must log in with CONNECT (env PARLEY_AUTH_TIMEOUT; default 30); nothing else extends it. Then BYE auth_timeout and close; 0 turns it off."
    )
  ),
  Config.integer("PARLEY_AUTH_TIMEOUT"),
  defaults.authTimeoutSeconds
)
const idleTimeout = withEnv(
  Options.integer("idle-timeout").pipe(
    Options.withDescription(
      "Seconds of silence (no frame at all) before a connection gets BYE idle (env PARLEY_IDLE_TIMEOUT; default 120; 0 disables)."
    )
  ),
  Config.integer("PARLEY_IDLE_TIMEOUT"),
  defaults.idleTimeoutSeconds
)
const synchronous = withEnv(
  Options.choice("synchronous", ["normal", "full"]).pipe(
    Options.withDescription(
      "SQLite durability (env PARLEY_SYNCHRONOUS; default normal). normal: an ACKed message survives a crash of the server process; full: it also survives a power loss, at the cost of an fsync per group commit."
    )
  ),
  Config.literal("normal", "full")("PARLEY_SYNCHRONOUS"),
  defaults.synchronous
)
const tokenTtl = withEnv(
  Options.integer("token-ttl").pipe(
    Options.withDescription("Days a login token stays valid (env PARLEY_TOKEN_TTL; default 7).")
  ),
  Config.integer("PARLEY_TOKEN_TTL"),
  defaults.tokenTtlDays
)
const replayCap = withEnv(
  Options.integer("replay-cap").pipe(
    Options.withDescription(
      "Most messages replayed after CONNECT before TRUNCATED (env PARLEY_REPLAY_CAP; default 1000)."
    )
  ),
  Config.integer("PARLEY_REPLAY_CAP"),
  defaults.replayCap
)

// our own flag: @effect/cli's built-in --log-level is only understood before the other options
const logLevel = withEnv(
  Options.choice("log-level", ["debug", "info", "warning", "error"]).pipe(
    Options.withDescription(
      "Least severe log lines printed (env PARLEY_LOG_LEVEL; default info): debug, info, warning or error."
    )
  ),
  Config.literal("debug", "info", "warning", "error")("PARLEY_LOG_LEVEL"),
  "info"
)

const metricsPort = Options.integer("metrics-port").pipe(
  Options.withDescription(
    "Port of an HTTP endpoint serving GET /metrics (Prometheus text format) and GET /healthz (200 while the server accepts connections and can write to its database within 2 s, 503 with the reason otherwise) (env PARLEY_METRICS_PORT; default off: not served; 0 picks a free one, shown at start)."
  ),
  Options.withFallbackConfig(Config.integer("PARLEY_METRICS_PORT")),
  Options.optional
)
const metricsHost = withEnv(
  Options.text("metrics-host").pipe(
    Options.withDescription(
      "Address the --metrics-port endpoint listens on (env PARLEY_METRICS_HOST; default 127.0.0.1). Anyone who reaches it sees the server's figures."
    )
  ),
  Config.string("PARLEY_METRICS_HOST"),
  defaults.metricsHost
)

const webPort = Options.integer("web-port").pipe(
  Options.withDescription(
    "Port of the web client (env PARLEY_WEB_PORT; default off; 0 picks a free one, shown at start): GET / serves the " +
      "browser client's files (see --web-root) and GET /ws is a WebSocket endpoint speaking the same protocol as TCP, " +
      "one frame per text message; browser and TCP users see each other. With --tls-cert and --tls-key it serves " +
      "HTTPS and wss:// instead."
  ),
  Options.withFallbackConfig(Config.integer("PARLEY_WEB_PORT")),
  Options.optional
)
const webHost = withEnv(
  Options.text("web-host").pipe(
    Options.withDescription(
      "Address the --web-port listens on (env PARLEY_WEB_HOST; default 127.0.0.1). Behind a reverse proxy keep it on " +
        "127.0.0.1; 0.0.0.0 accepts browsers from other machines directly."
    )
  ),
  Config.string("PARLEY_WEB_HOST"),
  "127.0.0.1"
)
const webRoot = optionalFile(
  "web-root",
  "PARLEY_WEB_ROOT",
  "Directory of the built web client served at / on --web-port (env PARLEY_WEB_ROOT; default packages/web/dist, " +
    "made by pnpm build, and built on the first start from a checkout that has not built it yet). A directory you " +
    "name here is served as it is: while it has no page, / says so; the WebSocket endpoint works regardless."
)
const webOrigin = optionalFile(
  "web-origin",
  "PARLEY_WEB_ORIGIN",
  "Origins whose pages may open the WebSocket endpoint, comma-separated, e.g. https://chat.example.com " +
    "(env PARLEY_WEB_ORIGIN; default: only the page's own origin, the scheme and Host the request came to; any: " +
    "every origin). A refused origin gets HTTP 403. Clients that are not browsers send no Origin and are not checked."
)
const trustProxy = Options.boolean("trust-proxy").pipe(
  Options.withDescription(
    "The web port is behind a reverse proxy (env PARLEY_TRUST_PROXY=true): a WebSocket connection's address (for " +
      "--max-conns-per-ip and the other per-address limits, and the sessions' ip_address) is the last one in " +
      "X-Forwarded-For, and its scheme X-Forwarded-Proto. Without it those headers are ignored: anyone could send them."
  ),
  Options.withFallbackConfig(Config.boolean("PARLEY_TRUST_PROXY"))
)

/** `--web-origin` as settings, or what is wrong with it. */
const parseOrigins = (
  text: string
): { readonly origins: WebSettings["origins"] } | { readonly problem: string } => {
  const items = text.split(",").map((o) => o.trim()).filter((o) => o.length > 0)
  if (items.length === 1 && (items[0] === "any" || items[0] === "*")) return { origins: "any" }
  if (items.length === 0) return { problem: "--web-origin needs an origin, e.g. https://chat.example.com, or any" }
  const origins: Array<string> = []
  for (const item of items) {
    const origin = normalizeOrigin(item)
    if (origin === undefined) {
      return {
        problem: `--web-origin ${item} is not an origin: give scheme://host[:port], e.g. https://chat.example.com`
      }
    }
    origins.push(origin)
  }
  return { origins }
}

/** The web port the flags ask for, or what is wrong with them (one line). */
const webFromFlags = (
  o: {
    readonly webPort: Option.Option<number>
    readonly webHost: string
    readonly webRoot: Option.Option<string>
    readonly webOrigin: Option.Option<string>
    readonly trustProxy: boolean
    readonly host: string
  },
  taken: ReadonlyArray<{ readonly port: number | "off"; readonly flag: string }>
): { readonly web: WebSettings | undefined } | { readonly problem: string } => {
  if (Option.isNone(o.webPort)) return { web: undefined }
  const port = o.webPort.value
  if (port < 0 || port > 65535) return { problem: "--web-port must be 0..65535" }
  const clash = taken.find((t) => port !== 0 && t.port === port && o.webHost === o.host)
  if (clash !== undefined) return { problem: `--web-port must differ from ${clash.flag}` }
  const parsed = Option.isNone(o.webOrigin) ? { origins: "own" as const } : parseOrigins(o.webOrigin.value)
  if ("problem" in parsed) return parsed
  const origins = parsed.origins
  return {
    web: {
      port,
      host: o.webHost,
      root: Option.match(o.webRoot, { onNone: defaultWebRoot, onSome: (dir) => Path.resolve(dir) }),
      origins,
      trustProxy: o.trustProxy
    }
  }
}

/** The one line for a database the server could not open or prepare at start. */
const startupProblem = (db: string, cause: Cause.Cause<unknown>) =>
  `cannot use the database ${redactUrl(db)}: ${describeFault(cause)} (` +
  (isPostgresUrl(db)
    ? "is PostgreSQL running and reachable there, and does the database exist? createdb makes one"
    : "is the disk full, the directory writable, or the file locked by another process?") +
  ")"

/** A flag's value that parses but cannot be used: said in one line, with where to look. */
class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/** `--port`: a port number, or "off"; undefined when it is neither. */
const parsePort = (text: string): number | "off" | undefined =>
  text === "off" ? "off" : /^\d{1,5}$/.test(text) && Number(text) <= 65535 ? Number(text) : undefined

/** The TLS listener the flags ask for, or what is wrong with them (one line). */
const tlsFromFlags = (
  port: number | "off",
  tlsPort: number,
  cert: Option.Option<string>,
  key: Option.Option<string>
): { readonly tls: TlsSettings | undefined } | { readonly problem: string } => {
  if (Option.isSome(cert) && Option.isNone(key)) {
    return { problem: "--tls-cert needs --tls-key too: the PEM private key of the certificate" }
  }
  if (Option.isNone(cert) && Option.isSome(key)) {
    return { problem: "--tls-key needs --tls-cert too: the PEM certificate (chain) of the key" }
  }
  if (Option.isNone(cert) || Option.isNone(key)) {
    return port === "off"
      ? { problem: "--port off serves TLS only: give --tls-cert and --tls-key too, or a port number" }
      : { tls: undefined }
  }
  if (tlsPort < 0 || tlsPort > 65535) return { problem: "--tls-port must be 0..65535" }
  if (tlsPort !== 0 && tlsPort === port) return { problem: "--tls-port must differ from --port" }
  return { tls: { port: tlsPort, certFile: cert.value, keyFile: key.value } }
}

const levels = { debug: LogLevel.Debug, info: LogLevel.Info, warning: LogLevel.Warning, error: LogLevel.Error } as const

/** The numeric flags a server start needs, as parsed. */
interface NumberFlags {
  readonly msgRate: number
  readonly msgBurst: number
  readonly loginFailures: number
  readonly registerRate: number
  readonly maxConnsPerIp: number
  readonly authTimeout: number
  readonly idleTimeout: number
  readonly tokenTtl: number
  readonly replayCap: number
  readonly metricsPort: Option.Option<number>
}

/** What is wrong with the numeric flags, if anything. */
const numberProblem = (o: NumberFlags): string | undefined =>
  o.msgRate < 0
    ? "--msg-rate must be 0 or more"
    : o.msgBurst < 1
    ? "--msg-burst must be 1 or more"
    : o.loginFailures < 0
    ? "--login-failures must be 0 or more"
    : o.registerRate < 0
    ? "--register-rate must be 0 or more"
    : o.maxConnsPerIp < 0
    ? "--max-conns-per-ip must be 0 or more"
    : o.authTimeout < 0
    ? "--auth-timeout must be 0 or more"
    : o.idleTimeout < 0
    ? "--idle-timeout must be 0 or more"
    : o.tokenTtl < 1
    ? "--token-ttl must be 1 or more"
    : o.replayCap < 1
    ? "--replay-cap must be 1 or more"
    : Option.isSome(o.metricsPort) && (o.metricsPort.value < 0 || o.metricsPort.value > 65535)
    ? "--metrics-port must be 0..65535"
    : undefined

/** What is wrong with `--bus` and `--node-id`, if anything. */
const clusterProblem = (bus: Option.Option<string>, nodeId: Option.Option<string>, db: string): string | undefined =>
  Option.isSome(nodeId) && !/^[A-Za-z0-9._-]{1,64}$/.test(nodeId.value)
    ? "--node-id must be 1..64 letters, digits, dots, dashes or underscores"
    : Option.isNone(bus)
    ? undefined
    : /^nats:\/\//i.test(bus.value)
    ? "--bus nats:// is not supported: Parley's bus is Redis (--bus redis://host:6379)"
    : !isRedisUrl(bus.value)
    ? "--bus must be a redis:// or rediss:// URL, such as redis://127.0.0.1:6379"
    : !isPostgresUrl(db)
    ? "--bus needs a PostgreSQL --db: the nodes of a cluster share one database (a postgres:// URL)"
    : undefined

/** What is wrong with `--db`, if anything. */
const dbProblem = (db: string): string | undefined =>
  db === "" || db === ":memory:" || db.startsWith("file:")
    ? "--db must name a database file or a postgres:// URL (the server opens a SQLite file twice: an in-memory database would be two)"
    : /^[a-z][a-z0-9+.-]*:\/\//i.test(db) && !isPostgresUrl(db)
    ? `--db ${
      db.slice(0, db.indexOf(":"))
    }:// is not a database Parley can use: give a SQLite file path or a postgres:// URL`
    : undefined

const command = Command.make(
  "parley-server",
  {
    host,
    port,
    tlsCert,
    tlsKey,
    tlsPort,
    db,
    msgRate,
    msgBurst,
    loginFailures,
    registerRate,
    maxConnsPerIp,
    authTimeout,
    idleTimeout,
    synchronous,
    tokenTtl,
    replayCap,
    logLevel,
    metricsPort,
    metricsHost,
    bus,
    nodeId,
    webPort,
    webHost,
    webRoot,
    webOrigin,
    trustProxy
  },
  (o) => {
    const port = parsePort(o.port)
    const tls = port === undefined ? undefined : tlsFromFlags(port, o.tlsPort, o.tlsCert, o.tlsKey)
    const web = webFromFlags(o, [
      { port: port ?? "off", flag: "--port" },
      { port: tls !== undefined && "tls" in tls && tls.tls !== undefined ? tls.tls.port : "off", flag: "--tls-port" },
      { port: Option.getOrElse(o.metricsPort, (): number | "off" => "off"), flag: "--metrics-port" }
    ])
    const problem = port === undefined
      ? "--port must be 0..65535, or off to serve TLS only"
      : tls !== undefined && "problem" in tls
      ? tls.problem
      : "problem" in web
      ? web.problem
      : numberProblem(o) ?? dbProblem(o.db) ?? clusterProblem(o.bus, o.nodeId, o.db)
    if (problem !== undefined || port === undefined || tls === undefined || "problem" in tls || "problem" in web) {
      return Effect.fail(new UsageError({ message: `${problem} (see --help)` }))
    }
    // unusable certificate files and ports are said before the database is opened or migrated
    const checkTls = tls.tls === undefined ? Effect.void : loadCredentials(tls.tls)
    const ports: Array<PortToCheck> = [
      ...(port === "off" ? [] : [{ port, flag: "--port" }]),
      ...(tls.tls === undefined ? [] : [{ port: tls.tls.port, flag: "--tls-port" }]),
      ...(Option.isSome(o.metricsPort) ? [{ port: o.metricsPort.value, flag: "--metrics-port" }] : [])
    ]
    const webPorts = web.web === undefined ? [] : [{ port: web.web.port, flag: "--web-port" }]
    return Effect.zipRight(
      Effect.zipRight(checkTls, Effect.zipRight(checkPorts(o.host, ports), checkPorts(o.webHost, webPorts))),
      Layer.launch(
        ServerLive({
          host: o.host,
          port,
          tls: tls.tls,
          db: o.db,
          msgRate: o.msgRate,
          msgBurst: o.msgBurst,
          loginFailures: o.loginFailures,
          registerRate: o.registerRate,
          maxConnsPerIp: o.maxConnsPerIp,
          authTimeoutSeconds: o.authTimeout,
          idleTimeoutSeconds: o.idleTimeout,
          synchronous: o.synchronous,
          tokenTtlDays: o.tokenTtl,
          replayCap: o.replayCap,
          metricsPort: Option.getOrUndefined(o.metricsPort),
          metricsHost: o.metricsHost,
          bus: Option.getOrUndefined(o.bus),
          nodeId: Option.getOrElse(o.nodeId, generatedNodeId),
          web: web.web
        })
      )
    ).pipe(
      // after every finalizer: connections said BYE, sessions closed, database closed
      Effect.onInterrupt(() => Effect.logInfo("stopped: every connection closed, database closed")),
      // a database that cannot be opened at start: one line saying what and what to do
      // a certificate or key that cannot be read or used: the same
      Effect.catchTag("TlsError", (error) => Effect.fail(new UsageError({ message: error.message }))),
      Effect.catchTag("PortError", (error) => Effect.fail(new UsageError({ message: error.message }))),
      Effect.catchAllCause((cause) => {
        if (isDatabaseError(cause)) return Effect.fail(new UsageError({ message: startupProblem(o.db, cause) }))
        const listen = listenProblem(cause, o.host)
        return listen !== undefined ? Effect.fail(new UsageError({ message: listen })) : Effect.failCause(cause)
      }),
      Logger.withMinimumLogLevel(levels[o.logLevel])
    )
  }
).pipe(
  Command.withDescription(
    "Runs the Parley chat server: line-delimited JSON over TCP (protocol v1, see docs/protocol.md), " +
      "with accounts, public and direct messages and their history stored in SQLite or PostgreSQL. " +
      "With --tls-cert and --tls-key it also listens with TLS. " +
      "With --web-port it also serves the web client and a WebSocket endpoint for it. " +
      "SIGINT/SIGTERM shut it down gracefully (BYE shutdown to everyone, sessions closed, exit 0); " +
      "SIGHUP reloads the TLS certificate and key."
  )
)

const copyDbCommand = Command.make(
  "copy-db",
  {
    from: Options.file("from").pipe(
      Options.withDescription(
        "The SQLite file to copy (the server's --db, e.g. chat_server.db). Only read; it must have been migrated by this version of the server (start the server on it once if not)."
      )
    ),
    to: Options.text("to").pipe(
      Options.withDescription(
        "The PostgreSQL database to copy into, as a postgres:// or postgresql:// URL. It must exist and hold no rows; its tables are created. The password in it is never printed."
      )
    )
  },
  (o): Effect.Effect<void, UsageError | CopyDbError> => {
    // neither echoes the value: a URL may hold a password
    const problem = isPostgresUrl(o.from)
      ? "--from names the SQLite file to copy from, not a URL"
      : !isPostgresUrl(o.to)
      ? "--to must be a postgres:// or postgresql:// URL"
      : undefined
    if (problem !== undefined) return Effect.fail(new UsageError({ message: `${problem} (see --help)` }))
    return Effect.asVoid(copyDb(o))
  }
).pipe(
  Command.withDescription(
    "Copies a SQLite database into an empty PostgreSQL database, keeping every id, in one transaction: " +
      "users, tokens, sessions and messages, or nothing. Then run the server with --db set to the URL."
  )
)

const adminUser = Args.text({ name: "user" }).pipe(Args.withDescription("The account's username."))

const adminAction = (action: "grant" | "revoke", description: string) =>
  Command.make(action, { user: adminUser, db }, (o) => admin(action, o.user, o.db)).pipe(
    Command.withDescription(description)
  )

const adminCommand = Command.make("admin").pipe(
  Command.withDescription(
    "Appoints server admins (docs/protocol.md, \"Server admins and locked accounts\"), with the server running or not; " +
      "--db names the same database as the server's."
  ),
  Command.withSubcommands([
    adminAction("grant", "Makes the user a server admin."),
    adminAction("revoke", "Makes the user an ordinary user again."),
    Command.make("list", { db }, (o) => admin("list", undefined, o.db)).pipe(
      Command.withDescription("Lists the server admins, one per line.")
    )
  ])
)

const cli = Command.run(Command.withSubcommands(command, [copyDbCommand, adminCommand]), {
  name: "parley-server",
  version: "0.1.0"
})

cli(process.argv).pipe(
  // help for people: no filler paragraphs, no ANSI in a pipe, no --wizard/--completions or a second --log-level
  withCleanCliOutput({ program: "parley-server", invokedAs: invokedAs("parley-server", "start:server") }),
  Effect.provide(CliConfig.layer({ showBuiltIns: false })),
  Effect.tapErrorCause((cause) => {
    if (Cause.isInterruptedOnly(cause)) return Effect.void
    const failure = Cause.failureOption(cause)
    if (Option.isSome(failure)) {
      // @effect/cli has already printed what was wrong with the command line
      if (ValidationError.isValidationError(failure.value)) return Effect.void
      if (failure.value instanceof UsageError) return Console.error(`parley-server: ${failure.value.message}`)
      if (failure.value instanceof CopyDbError) return Console.error(`parley-server copy-db: ${failure.value.message}`)
      if (failure.value instanceof AdminError) return Console.error(`parley-server admin: ${failure.value.message}`)
    }
    return Effect.logError("the server stopped", cause)
  }),
  Effect.provide(Layer.mergeAll(NodeContext.layer, Logger.logFmt)),
  (main) =>
    runMain(main, {
      name: "parley-server",
      graceMs: 10_000,
      // SIGHUP reloads the TLS certificate (see Server.ts); it never stops the server
      keepOnHangup: true,
      stillStopping: "already shutting down (saying BYE, closing sessions and the database); it exits within 10 s"
    })
)
