/**
 * Start-up check of the ports the server will listen on, before the
 * database is opened or migrated: a port in use (another server), a port
 * this user may not bind, or a --host that is not an address of this machine
 * is one plain line saying what to do, with nothing created. The listeners
 * themselves bind later; the same errors from them read the same
 * (`describeListenError`).
 */
import { Cause, Chunk, Data, Effect } from "effect"
import * as Net from "node:net"

export class PortError extends Data.TaggedError("PortError")<{ readonly message: string }> {}

/** A port and the flag that names it, for the message. */
export interface PortToCheck {
  readonly port: number
  readonly flag: string
}

/** One line for a failed listen, or undefined when it is not one of the known causes. */
export const describeListenError = (error: unknown, host: string, port: number, flag: string): string | undefined => {
  const code = (error as { code?: unknown } | null)?.code
  const where = `${host.includes(":") ? `[${host}]` : host}:${port}`
  switch (code) {
    case "EADDRINUSE":
      return `${where} is already in use (another parley-server?): stop that program or choose another ${flag}`
    case "EACCES":
      return `not allowed to listen on ${where}: ports below 1024 need root or CAP_NET_BIND_SERVICE; choose another ${flag}`
    case "EADDRNOTAVAIL":
    case "ENOTFOUND":
      return `--host ${host} is not an address of this machine: use 127.0.0.1, 0.0.0.0 or one of its own addresses`
    default:
      return undefined
  }
}

const tryListen = (host: string, { flag, port }: PortToCheck) =>
  Effect.async<void, PortError>((resume) => {
    const server = Net.createServer()
    server.once("error", (error) => {
      const line = describeListenError(error, host, port, flag)
      resume(
        Effect.fail(new PortError({ message: line ?? `cannot listen on ${host}:${port} (${flag}): ${error.message}` }))
      )
    })
    server.listen({ port, host, exclusive: true }, () => server.close(() => resume(Effect.void)))
  })

/** Fails with one line when any of the ports cannot be listened on (port 0 checks the host alone). */
export const checkPorts = (host: string, ports: ReadonlyArray<PortToCheck>): Effect.Effect<void, PortError> =>
  Effect.forEach(ports, (p) => tryListen(host, p), { discard: true })

/** The line for a listen that failed after the check (another program took the port meanwhile). */
export const listenProblem = (cause: Cause.Cause<unknown>, host: string): string | undefined => {
  for (
    const defect of [...Chunk.toReadonlyArray(Cause.defects(cause)), ...Chunk.toReadonlyArray(Cause.failures(cause))]
  ) {
    const error = defect as { syscall?: unknown; port?: unknown } | null
    if (error === null || typeof error !== "object" || error.syscall !== "listen") continue
    const line = describeListenError(error, host, typeof error.port === "number" ? error.port : 0, "port")
    if (line !== undefined) return line
  }
  return undefined
}
