/**
 * Common start-up mistakes, as a new user makes them: each is one plain line
 * on the real program's output naming the port or path and what to do, exit
 * 1, and nothing created (the database is not opened before the ports are
 * known to be free).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import { runServerCommand, tempDir } from "./support/ServerProcess.ts"

/** A port held by another listener for the test's scope. */
const heldPort = Effect.acquireRelease(
  Effect.async<Net.Server>((resume) => {
    const server = Net.createServer()
    server.listen(0, "127.0.0.1", () => resume(Effect.succeed(server)))
  }),
  (server) => Effect.sync(() => server.close())
).pipe(Effect.map((server) => (server.address() as Net.AddressInfo).port))

const oneLine = (output: string) => output.trim().split("\n")

describe("start-up mistakes", () => {
  it.scopedLive(
    "a port already in use: one line naming it, exit 1, no database file created",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const port = yield* heldPort
        const db = Path.join(dir, "chat.db")
        const { code, output } = yield* runServerCommand(["--host", "127.0.0.1", "--port", String(port), "--db", db])
        assert.strictEqual(code, 1, output)
        assert.deepStrictEqual(oneLine(output), [
          `parley-server: 127.0.0.1:${port} is already in use (another parley-server?): stop that program or choose another --port`
        ])
        assert.isFalse(Fs.existsSync(db), "the database was created before the listen failed")

        const metrics = yield* runServerCommand([
          "--host",
          "127.0.0.1",
          "--port",
          "0",
          "--metrics-port",
          String(port),
          "--db",
          db
        ])
        assert.strictEqual(metrics.code, 1, metrics.output)
        assert.include(
          metrics.output,
          `127.0.0.1:${port} is already in use (another parley-server?): stop that program or choose another --metrics-port`
        )
        assert.isFalse(Fs.existsSync(db))
      }),
    { timeout: 60_000 }
  )

  it.scopedLive(
    "a --host that is not this machine's, and a --db in a missing directory or naming a directory: one line each, exit 1",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const host = yield* runServerCommand(["--host", "192.0.2.1", "--port", "0", "--db", Path.join(dir, "a.db")])
        assert.strictEqual(host.code, 1, host.output)
        assert.deepStrictEqual(oneLine(host.output), [
          "parley-server: --host 192.0.2.1 is not an address of this machine: use 127.0.0.1, 0.0.0.0 or one of its own addresses"
        ])
        const missing = Path.join(dir, "no-such-dir", "chat.db")
        const noDir = yield* runServerCommand(["--port", "0", "--db", missing])
        assert.strictEqual(noDir.code, 1, noDir.output)
        assert.strictEqual(oneLine(noDir.output).length, 1, noDir.output)
        assert.include(noDir.output, missing)
        const aDirectory = yield* runServerCommand(["--port", "0", "--db", dir])
        assert.strictEqual(aDirectory.code, 1, aDirectory.output)
        assert.strictEqual(oneLine(aDirectory.output).length, 1, aDirectory.output)
        assert.include(aDirectory.output, dir)
      }),
    { timeout: 60_000 }
  )
})
