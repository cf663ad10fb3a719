/**
 * Self-signed certificates for the TLS tests of the server and of the client, made with the
 * `openssl` command line the way an operator makes one (docs/operations.md): a P-256 key and a
 * certificate for localhost and 127.0.0.1 (subjectAltName, or the names given), valid for a day.
 * One maker for both packages, so their tests trust the same kind of certificate.
 */
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Path from "node:path"

export interface SelfSigned {
  /** Where the certificate and its key were written (`<name>.crt`, `<name>.key`). */
  readonly certFile: string
  readonly keyFile: string
  /** The certificate, PEM: what a client given it as its CA trusts. */
  readonly cert: string
  /** Its private key, PEM. */
  readonly key: string
  /** SHA-256 fingerprint, as `TLSSocket.getPeerCertificate().fingerprint256` gives it. */
  readonly fingerprint: string
}

/**
 * A fresh certificate and key, made in `dir` under `name.crt` / `name.key`, for `names`
 * (subjectAltName, `DNS:localhost,IP:127.0.0.1` unless given).
 */
export const selfSigned = (
  dir: string,
  name: string,
  names = "DNS:localhost,IP:127.0.0.1"
): Effect.Effect<SelfSigned> =>
  Effect.sync(() => {
    const certFile = Path.join(dir, `${name}.crt`)
    const keyFile = Path.join(dir, `${name}.key`)
    ChildProcess.execFileSync("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      "1",
      "-subj",
      `/CN=localhost`,
      "-addext",
      `subjectAltName=${names}`
    ], { stdio: "ignore" })
    const cert = Fs.readFileSync(certFile, "utf8")
    return {
      certFile,
      keyFile,
      cert,
      key: Fs.readFileSync(keyFile, "utf8"),
      fingerprint: new Crypto.X509Certificate(cert).fingerprint256
    }
  })

/** Puts a certificate and key where the server reads them (as a renewal does). */
export const install = (certificate: SelfSigned, certFile: string, keyFile: string): Effect.Effect<void> =>
  Effect.sync(() => {
    Fs.writeFileSync(keyFile, certificate.key)
    Fs.writeFileSync(certFile, certificate.cert)
  })

/**
 * A fresh certificate (`first`) where a server started with `--tls-cert certFile --tls-key
 * keyFile` reads it (`server.crt` / `server.key` in `dir`), so that a test can `install` a
 * renewal over it and send SIGHUP.
 */
export const installedIn = (
  dir: string
): Effect.Effect<{ readonly certFile: string; readonly keyFile: string; readonly first: SelfSigned }> =>
  Effect.gen(function*() {
    const certFile = Path.join(dir, "server.crt")
    const keyFile = Path.join(dir, "server.key")
    const first = yield* selfSigned(dir, "first")
    yield* install(first, certFile, keyFile)
    return { certFile, keyFile, first }
  })
