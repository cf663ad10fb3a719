/**
 * The fuzz test's check, on made-up replies: it must catch a missing reply,
 * an extra one, a wrong id, a reply the contract does not allow there, a
 * long or echoing message, and follow a login; otherwise Fuzz.test.ts could
 * pass without having checked anything.
 */
import { assert, describe, it } from "@effect/vitest"
import { classify, deliberate, type Reply, walk } from "./support/FuzzFrames.ts"

const line = (text: string) => {
  const bytes = Buffer.from(text)
  return { bytes, terminator: "\n" as const, verdict: classify(bytes) }
}
const ping = (id: number) => deliberate({ command: "PING", id })
const pong = (id: number): Reply => ({ type: "PONG", id })
const whys = (t: ReturnType<typeof walk>) => t.problems.map((p) => p.why)

describe("fuzz check", () => {
  it("matches lines to replies in order and says what is wrong", () => {
    assert.deepStrictEqual(whys(walk([ping(1), line(" "), ping(2)], [pong(1), pong(2)])), [])
    assert.deepStrictEqual(whys(walk([ping(1), ping(2)], [pong(1)])), ["no reply"])
    assert.deepStrictEqual(whys(walk([ping(1)], [pong(1), pong(1)])), ["1 replies more than lines owed one"])
    assert.deepStrictEqual(whys(walk([ping(1)], [pong(2)])), ["id 2, expected 1"])
    assert.deepStrictEqual(whys(walk([line("{\"command\":\"MSG\",\"text\":\"hi\"}")], [{ type: "ACK" }])), [
      "got ACK, expected one of ERROR:NOT_AUTHENTICATED ERROR:INVALID_COMMAND (guest)"
    ])
    assert.deepStrictEqual(
      whys(walk([line("{\"command\":\"PING\"}")], [{ type: "ERROR", code: "INTERNAL", message: "x" }])),
      [
        "got ERROR:INTERNAL, expected one of PONG ERROR:INVALID_COMMAND (guest)"
      ]
    )
  })

  it("a CONNECTED makes the connection a member; after a BYE nothing more is owed", () => {
    const login = deliberate({ command: "CONNECT", username: "ann", password: "secret password" })
    const msg = line("{\"command\":\"MSG\",\"text\":\"hi\",\"id\":\"m\"}")
    assert.deepStrictEqual(whys(walk([login, msg], [{ type: "CONNECTED" }, { type: "ACK", id: "m" }])), [])
    const bye = deliberate({ command: "DISCONNECT" })
    assert.deepStrictEqual(whys(walk([bye, ping(1)], [{ type: "BYE" }])), [])
  })

  it("an error message must be short and must not repeat more than a quoted name of what was sent", () => {
    const unknown = line(JSON.stringify({ command: "X".repeat(300) }))
    const error = (message: string): Reply => ({ type: "ERROR", code: "UNKNOWN_COMMAND", message })
    assert.deepStrictEqual(whys(walk([unknown], [error(`unknown command "${"X".repeat(64)}"`)])), [])
    assert.deepStrictEqual(whys(walk([unknown], [error(`unknown command "${"X".repeat(120)}"`)])), [
      "the ERROR message echoes the line"
    ])
    assert.deepStrictEqual(whys(walk([unknown], [error("y".repeat(201))])), ["an ERROR message of 201 characters"])
  })
})
