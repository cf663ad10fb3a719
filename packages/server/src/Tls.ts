/**
 * The TLS listener's certificate: read from the PEM files at start, checked
 * (a certificate and a key that belong together), and read again on SIGHUP,
 * so a renewed certificate (certbot's deploy hook) takes effect for new
 * connections without closing any open one. A reload that fails keeps the
 * certificate in use.
 */
import { Data, Effect } from "effect"
import * as Fs from "node:fs"
import * as Tls from "node:tls"

/** Where the certificate (chain) and its private key are, both PEM. */
export interface TlsFiles {
  readonly certFile: string
  readonly keyFile: string
}

/** The files cannot be read, or do not hold a usable certificate and key; `message` is one line. */
export class TlsError extends Data.TaggedError("TlsError")<{ readonly message: string }> {}

/**
 * How long a client may take to complete the handshake before it is dropped:
 * a connection is counted (per-address limit, auth timeout) only once it has
 * completed one, so this is what bounds one that never does.
 */
export const HANDSHAKE_TIMEOUT_MS = 10_000

const oneLine = (error: unknown): string =>
  (error instanceof Error ? error.message : String(error)).replace(/\s+/g, " ").trim()

const read = (file: string, what: string) =>
  Effect.try({
    try: () => Fs.readFileSync(file),
    catch: (error) =>
      new TlsError({
        message: `cannot read the TLS ${what} ${file}: ${
          (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : oneLine(error)
        }`
      })
  })

/** Reads both files and checks that they make a secure context; the options to build one from. */
export const loadCredentials = (files: TlsFiles): Effect.Effect<Tls.SecureContextOptions, TlsError> =>
  Effect.gen(function*() {
    const cert = yield* read(files.certFile, "certificate (--tls-cert)")
    const key = yield* read(files.keyFile, "key (--tls-key)")
    const credentials: Tls.SecureContextOptions = { cert, key, minVersion: "TLSv1.2" }
    // a file that is not PEM, a key that is not the certificate's: OpenSSL says which
    yield* Effect.try({
      try: () => Tls.createSecureContext(credentials),
      catch: (error) =>
        new TlsError({
          message: `${files.certFile} and ${files.keyFile} are not a PEM certificate and its private key: ${
            oneLine(error)
          }`
        })
    })
    return credentials
  })

/** A TLS server that speaks TLS 1.2 or later with the certificate in the files; `reload` reads them again. */
export const makeTlsServer = (
  files: TlsFiles,
  options: { readonly noDelay: boolean; readonly allowHalfOpen: boolean }
) =>
  Effect.map(loadCredentials(files), (credentials) => {
    const server = Tls.createServer({
      ...credentials,
      ...options,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS
    })
    /** Swaps the certificate for new connections; on failure the old one stays and the error says why. */
    const reload: Effect.Effect<void, TlsError> = Effect.flatMap(
      loadCredentials(files),
      (fresh) => Effect.sync(() => server.setSecureContext(fresh))
    )
    return { server, reload } as const
  })
