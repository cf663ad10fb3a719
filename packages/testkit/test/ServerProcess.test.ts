import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { launch, parleyArgs, parseListening, spawnServer } from "../src/ServerProcess.ts"

describe("parseListening", () => {
  it("reads the TCP port, the TLS port, or both, once the line is whole", () => {
    assert.deepStrictEqual(parseListening("Parley listening on 127.0.0.1:5555 (database chat.db)\n"), {
      port: 5555,
      tlsPort: undefined
    })
    assert.deepStrictEqual(
      parseListening("Parley listening on 127.0.0.1:40001 and with TLS on 127.0.0.1:40002 (database x)\n"),
      { port: 40001, tlsPort: 40002 }
    )
    assert.deepStrictEqual(parseListening("Parley listening with TLS on 127.0.0.1:40002 (database x)\n"), {
      port: 0,
      tlsPort: 40002
    })
    assert.deepStrictEqual(parseListening("parley-baseline listening on 127.0.0.1:7000\n"), {
      port: 7000,
      tlsPort: undefined
    })
    // a port cut by a chunk boundary is not read until its line ends
    assert.isUndefined(parseListening("parley-baseline listening on 127.0.0.1:70"))
    assert.isUndefined(parseListening("Debugger listening on ws://127.0.0.1:9229/abc\n"))
  })
})

describe("parleyArgs", () => {
  it("turns the abuse limits off unless a flag or a variable sets one, or the defaults are asked for", () => {
    const args = parleyArgs({ db: "/tmp/x.db", flags: ["--msg-rate", "5"], env: { PARLEY_AUTH_TIMEOUT: "3" } })
    assert.deepStrictEqual(args.slice(3), [
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--db",
      "/tmp/x.db",
      "--login-failures",
      "0",
      "--register-rate",
      "0",
      "--max-conns-per-ip",
      "0",
      "--msg-rate",
      "5"
    ])
    assert.notInclude(parleyArgs({ defaultLimits: true }), "--msg-rate")
  })
})

describe("launch and spawnServer", () => {
  it.live("a real server: listening, restarted on the same port, stopped with the scope", () =>
    Effect.gen(function*() {
      const pid = yield* Effect.scoped(Effect.gen(function*() {
        const server = yield* spawnServer()
        assert.isAbove(server.port, 0)
        const first = server.pid
        yield* server.restart
        assert.notStrictEqual(server.pid, first)
        const announced = server.output().match(new RegExp(`listening on 127\\.0\\.0\\.1:${server.port} \\(`, "g"))
        assert.strictEqual(announced?.length, 2, "both processes listened on the same port")
        return server.pid
      }))
      assert.throws(() => process.kill(pid, 0), /ESRCH/)
    }), { timeout: 90_000 })

  it.live("a program that exits before listening is an error that quotes what it printed", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        launch({ command: process.execPath, args: ["-e", "console.log('no such thing'); process.exit(3)"] })
      )
      assert.match(error.message, /exited \(3\) before listening:\nno such thing/)
    }))
})
