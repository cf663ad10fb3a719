/**
 * The `parley` command line: the interactive chat by default, `send` and
 * `listen` for scripts, all with the same connection options.
 */
import { Args, Command, Options } from "@effect/cli"
import { USERNAME_PATTERN } from "@parley/protocol"
import { Config, Effect, Option } from "effect"
import { X509Certificate } from "node:crypto"
import * as Fs from "node:fs"
import { ChatEnded, runChat } from "./Chat.ts"
import { askUsername, resolvePassword } from "./Credentials.ts"
import { runListen } from "./Listen.ts"
import { runSend } from "./Send.ts"
import type { TlsOptions } from "./TcpTransport.ts"

const describe = {
  host: "Server address (env PARLEY_HOST; default 127.0.0.1).",
  port: "Server port (env PARLEY_PORT; default 5555, or 5556 with --tls).",
  tls:
    "Connect with TLS. The server's certificate must be valid for --host and signed by a CA Node trusts (its built-in list of public CAs, such as Let's Encrypt, plus NODE_EXTRA_CA_CERTS) or by --ca.",
  ca:
    "Also trust this certificate (PEM): the server's self-signed certificate or the CA that signed it (env PARLEY_CA). Implies --tls.",
  user:
    "Your username: 3..32 of A-Z a-z 0-9 _ - (env PARLEY_USER). The chat asks for it when missing; send and listen need it.",
  register: "Create the account first (logging in is fine if it is already yours). Without it the account must exist.",
  passwordFile:
    "Read the password from the first line of this file. Otherwise PARLEY_PASSWORD is used, or it is asked on the terminal without echo."
}

const host = Options.text("host").pipe(
  Options.withDescription(describe.host),
  Options.withFallbackConfig(Config.string("PARLEY_HOST").pipe(Config.withDefault("127.0.0.1")))
)
const port = Options.integer("port").pipe(
  Options.withDescription(describe.port),
  Options.withFallbackConfig(Config.integer("PARLEY_PORT")),
  Options.optional
)
const tls = Options.boolean("tls").pipe(Options.withDescription(describe.tls))
const ca = Options.text("ca").pipe(
  Options.withDescription(describe.ca),
  Options.withFallbackConfig(Config.string("PARLEY_CA")),
  Options.optional
)
const user = Options.text("user").pipe(
  Options.withAlias("u"),
  Options.withDescription(describe.user),
  Options.withFallbackConfig(Config.string("PARLEY_USER")),
  Options.optional
)
const register = Options.boolean("register").pipe(
  Options.withDescription(describe.register)
)
const passwordFile = Options.text("password-file").pipe(
  Options.withDescription(describe.passwordFile),
  Options.optional
)

const connection = { host, port, tls, ca, user, register, passwordFile }

// the same options after a subcommand (`parley send --user alice hi`), winning over those before it
const overrides = {
  host: Options.text("host").pipe(Options.withDescription(describe.host), Options.optional),
  port: Options.integer("port").pipe(Options.withDescription(describe.port), Options.optional),
  tls: Options.boolean("tls").pipe(Options.withDescription(describe.tls)),
  ca: Options.text("ca").pipe(Options.withDescription(describe.ca), Options.optional),
  user: Options.text("user").pipe(Options.withAlias("u"), Options.withDescription(describe.user), Options.optional),
  register: Options.boolean("register").pipe(Options.withDescription(describe.register)),
  passwordFile: Options.text("password-file").pipe(Options.withDescription(describe.passwordFile), Options.optional)
}

type Overrides = {
  readonly host: Option.Option<string>
  readonly port: Option.Option<number>
  readonly tls: boolean
  readonly ca: Option.Option<string>
  readonly user: Option.Option<string>
  readonly register: boolean
  readonly passwordFile: Option.Option<string>
}

const merge = (parent: ConnectionConfig, sub: Overrides): ConnectionConfig => ({
  host: Option.getOrElse(sub.host, () => parent.host),
  port: Option.orElse(sub.port, () => parent.port),
  tls: parent.tls || sub.tls,
  ca: Option.orElse(sub.ca, () => parent.ca),
  user: Option.orElse(sub.user, () => parent.user),
  register: parent.register || sub.register,
  passwordFile: Option.orElse(sub.passwordFile, () => parent.passwordFile)
})

type ConnectionConfig = {
  readonly host: string
  readonly port: Option.Option<number>
  readonly tls: boolean
  readonly ca: Option.Option<string>
  readonly user: Option.Option<string>
  readonly register: boolean
  readonly passwordFile: Option.Option<string>
}

/** The TLS settings the options ask for (`--ca` implies `--tls`), its CA file read and checked. */
const tlsOptions = (config: ConnectionConfig): Effect.Effect<TlsOptions | undefined, ChatEnded> =>
  Effect.gen(function*() {
    const file = Option.getOrUndefined(config.ca)
    if (file === undefined) return config.tls ? {} : undefined
    const pem = yield* Effect.try({
      try: () => Fs.readFileSync(file, "utf8"),
      catch: (error) =>
        new ChatEnded({
          reason: `cannot read --ca ${file}: ${
            (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : String(error)
          }`
        })
    })
    yield* Effect.try({
      try: () => new X509Certificate(pem),
      catch: () => new ChatEnded({ reason: `--ca ${file} is not a PEM certificate (-----BEGIN CERTIFICATE-----)` })
    })
    return { ca: pem }
  })

/** Checks the options and gets the password: everything needed to connect. */
const credentials = (config: ConnectionConfig, interactive: boolean) =>
  Effect.gen(function*() {
    const tls = yield* tlsOptions(config)
    const port = Option.getOrElse(config.port, () => (tls === undefined ? 5555 : 5556))
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      return yield* new ChatEnded({ reason: `--port must be 1..65535 (got ${port})` })
    }
    let name = Option.getOrUndefined(config.user)
    if (name === undefined && interactive && process.stdin.isTTY) {
      name = yield* askUsername.pipe(Effect.mapError((e) => new ChatEnded({ reason: e.message })))
    }
    if (name === undefined || name === "") {
      return yield* new ChatEnded({ reason: "who are you? pass --user <name> (or set PARLEY_USER)" })
    }
    if (!USERNAME_PATTERN.test(name)) {
      return yield* new ChatEnded({
        reason: `"${name}" is not a username: use 3..32 characters of A-Z a-z 0-9 _ -`
      })
    }
    const password = yield* resolvePassword({
      user: name,
      passwordFile: Option.getOrUndefined(config.passwordFile),
      register: config.register,
      canPrompt: process.stdin.isTTY === true
    }).pipe(Effect.mapError((e) => new ChatEnded({ reason: e.message })))
    return { host: config.host, port, tls, user: name, password, register: config.register }
  })

/** The root command: the interactive chat. */
export const parley = Command.make("parley", connection, (config) => Effect.flatMap(credentials(config, true), runChat))
  .pipe(
    Command.withDescription(
      "Chat on a Parley server. Type to talk to everyone, /msg <user> <text> for a direct message, /help for more. " +
        "It reconnects by itself; nothing you send is lost or doubled. " +
        "Subcommands take the same connection options: parley send --user alice hello"
    )
  )

const to = Options.text("to").pipe(
  Options.withDescription("Send direct messages to this user instead of everyone."),
  Options.optional
)
const text = Args.text({ name: "text" }).pipe(
  Args.withDescription(
    "The message (several words are joined with spaces). Without it, each line of standard input is one message."
  ),
  Args.repeated
)

const timeout = Options.integer("timeout").pipe(
  Options.withDescription(
    "Give up after this many seconds in all (connecting, sending, waiting for acknowledgements) and exit 1. " +
      "Without it, send keeps reconnecting until every message is acknowledged."
  ),
  Options.optional
)

/** `parley send [--to user] [--timeout seconds] [text]` */
export const send = Command.make("send", { to, timeout, text, ...overrides }, (args) =>
  Effect.gen(function*() {
    const seconds = Option.getOrUndefined(args.timeout)
    if (seconds !== undefined && seconds < 1) {
      return yield* new ChatEnded({ reason: "--timeout must be 1 second or more (see parley send --help)" })
    }
    const creds = yield* credentials(merge(yield* parley, args), false)
    yield* runSend({
      ...creds,
      to: Option.getOrUndefined(args.to),
      text: args.text.length > 0 ? args.text.join(" ") : undefined,
      timeoutSeconds: seconds
    })
  })).pipe(
    Command.withDescription(
      "Send a message, or each line of standard input as one message, in order. Exits 0 only when the server " +
        "acknowledged every message (it reconnects and resends as needed, never doubling one); 1 otherwise, " +
        "or when --timeout runs out first."
    )
  )

const json = Options.boolean("json").pipe(
  Options.withDescription("Print each event as the protocol's own JSON object, one per line (for scripts).")
)

/** `parley listen [--json]` */
export const listen = Command.make("listen", { json, ...overrides }, (args) =>
  Effect.gen(function*() {
    const creds = yield* credentials(merge(yield* parley, args), false)
    yield* runListen({ ...creds, json: args.json })
  })).pipe(
    Command.withDescription(
      "Print every event the server sends (MESSAGE, PRESENCE, RECEIPT, BYE) until interrupted. " +
        "It reconnects by itself and never prints a message twice. Status goes to standard error."
    )
  )

/** The whole program. */
export const command = parley.pipe(Command.withSubcommands([send, listen]))

/** Runs the program on `argv` (as `process.argv`). */
export const run = Command.run(command, { name: "parley", version: "0.1.0" })
