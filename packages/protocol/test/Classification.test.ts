/**
 * How the contract classifies a bad line (INVALID_JSON, INVALID_COMMAND,
 * UNKNOWN_COMMAND) and the rule of every field, at the edges of each rule.
 */
import { assert, describe, it } from "@effect/vitest"
import {
  type Command,
  commandNames,
  decodeCommand,
  decodeEvent,
  type FrameEvent,
  Framer,
  type RequestId,
  toErrorFrame
} from "@parley/protocol"
import { Either } from "effect"

/** The command a line decodes to; fails the test if it does not. */
const accepted = (line: string): Command => {
  const result = decodeCommand(line)
  if (Either.isLeft(result)) assert.fail(`${line} was refused: ${result.left.error.message}`)
  return result.right
}

/** The error a line is refused with, as its ERROR frame; fails the test if it is accepted. */
const refused = (line: string) => {
  const result = decodeCommand(line)
  if (Either.isRight(result)) assert.fail(`${line} was accepted`)
  return toErrorFrame(result.left.error, result.left.id)
}

const assertRefused = (line: string, code: string, id?: RequestId) => {
  const frame = refused(line)
  assert.strictEqual(frame.code, code, `${line}: ${frame.message}`)
  assert.strictEqual(frame.id, id)
  assert.strictEqual("id" in frame, id !== undefined)
  return frame
}

/** INVALID_COMMAND whose message names `field`. */
const assertFieldRefused = (line: string, field: string) => {
  const frame = assertRefused(line, "INVALID_COMMAND", JSON.parse(line).id)
  assert.isTrue(frame.message.startsWith(`${field}:`), `"${frame.message}" names ${field}`)
}

const str = (value: string) => JSON.stringify(value)
const msg = (text: string) => `{"command":"MSG","id":1,"text":${str(text)}}`
const register = (username: string, password = "correct horse") =>
  `{"command":"REGISTER","id":"r","username":${str(username)},"password":${str(password)}}`

describe("Classification", () => {
  it("a line that is not JSON is INVALID_JSON", () => {
    const lines = ["hello", "{", "{\"command\":\"PING\",}", "{'command':'PING'}", "PING", "{\"command\":\"PING\"} x"]
    for (const line of lines) assertRefused(line, "INVALID_JSON")
  })

  it("a line that is not UTF-8 is Malformed, then INVALID_JSON", () => {
    const events = new Framer().feed(Uint8Array.of(0x7b, 0x22, 0xff, 0x22, 0x7d, 0x0a))
    assert.deepStrictEqual(events, [{ _tag: "Malformed" }])
    const result = decodeEvent(events[0] as Exclude<FrameEvent, { _tag: "TooLarge" }>)
    assert.isTrue(Either.isLeft(result))
    if (Either.isLeft(result)) assert.strictEqual(toErrorFrame(result.left.error, result.left.id).code, "INVALID_JSON")
  })

  it("valid JSON that is not an object is INVALID_COMMAND", () => {
    for (const line of ["[]", "[{\"command\":\"PING\"}]", "\"PING\"", "42", "null", "true"]) {
      assertRefused(line, "INVALID_COMMAND")
    }
  })

  it("a missing or non-string command is INVALID_COMMAND, with the id echoed", () => {
    assertRefused("{}", "INVALID_COMMAND")
    assertRefused("{\"id\":3}", "INVALID_COMMAND", 3)
    for (const value of ["5", "null", "[\"PING\"]", "{\"name\":\"PING\"}", "true"]) {
      assertRefused(`{"command":${value},"id":"a"}`, "INVALID_COMMAND", "a")
    }
  })

  it("an id that is neither a string nor a number is INVALID_COMMAND", () => {
    for (const value of ["null", "true", "[1]", "{\"n\":1}", "1e400"]) {
      const frame = assertRefused(`{"command":"PING","id":${value}}`, "INVALID_COMMAND")
      assert.isTrue(frame.message.startsWith("id:"))
    }
  })

  it("an unknown or wrongly cased command is UNKNOWN_COMMAND, with the id echoed", () => {
    for (const name of ["msg", "Ping", "PING ", "HELLO", "LOGIN", "", "__proto__", "toString", "constructor"]) {
      assertRefused(`{"command":${str(name)},"id":7}`, "UNKNOWN_COMMAND", 7)
      assertRefused(`{"command":${str(name)},"id":"x"}`, "UNKNOWN_COMMAND", "x")
    }
  })

  it("the whitelist is exactly the contract's commands", () => {
    assert.deepStrictEqual(
      [...commandNames].sort(),
      [
        "AUDIT",
        "BAN",
        "CONNECT",
        "DELETE",
        "DISCONNECT",
        "EDIT",
        "HISTORY",
        "INVITE",
        "JOIN",
        "KICK",
        "LOCK",
        "MEMBERS",
        "MSG",
        "MUTE",
        "PART",
        "PING",
        "READ",
        "REGISTER",
        "REVOKE",
        "ROLE",
        "ROOMS",
        "ROOM_CREATE",
        "ROOM_DELETE",
        "SESSIONS",
        "TOPIC",
        "UNBAN",
        "UNLOCK",
        "UNMUTE",
        "USERS"
      ]
    )
  })

  it("a field that breaks its rule is INVALID_COMMAND naming the field, with the id echoed", () => {
    assertFieldRefused("{\"command\":\"REGISTER\",\"id\":2,\"password\":\"correct horse\"}", "username")
    assertFieldRefused("{\"command\":\"MSG\",\"id\":\"m\"}", "text")
    assertFieldRefused("{\"command\":\"MSG\",\"id\":\"m\",\"text\":5}", "text")
    assertFieldRefused("{\"command\":\"MSG\",\"id\":\"m\",\"text\":\"hi\",\"to\":5}", "to")
    assertFieldRefused("{\"command\":\"HISTORY\",\"id\":4,\"with\":[\"bob\"]}", "with")
    assertFieldRefused("{\"command\":\"HISTORY\",\"id\":4,\"before\":\"10\"}", "before")
    assertFieldRefused("{\"command\":\"HISTORY\",\"id\":4,\"after\":-1}", "after")
    assertFieldRefused("{\"command\":\"READ\",\"id\":5}", "message_id")
    assertFieldRefused("{\"command\":\"READ\",\"id\":5,\"message_id\":1.5}", "message_id")
    assertFieldRefused("{\"command\":\"READ\",\"id\":5,\"message_id\":-1}", "message_id")
    assertFieldRefused("{\"command\":\"CONNECT\",\"id\":6,\"password\":\"correct horse\"}", "username")
    assertFieldRefused("{\"command\":\"CONNECT\",\"id\":6,\"username\":\"al\",\"token\":42}", "token")
    assertFieldRefused(`{"command":"CONNECT","id":6,"username":"al","password":"${"p".repeat(1025)}"}`, "password")
    assertFieldRefused(
      "{\"command\":\"CONNECT\",\"id\":6,\"username\":\"alice\",\"password\":\"correct horse\",\"resume_after\":\"x\"}",
      "resume_after"
    )
  })

  it("CONNECT with both or neither of password and token is INVALID_COMMAND", () => {
    const neither = "{\"command\":\"CONNECT\",\"id\":1,\"username\":\"alice\"}"
    const both = neither.replace("}", ",\"password\":\"correct horse\",\"token\":\"q7Ks2dF0bN1-x_Yp9LmZ3w\"}")
    for (const line of [both, neither]) {
      const frame = assertRefused(line, "INVALID_COMMAND", 1)
      assert.include(frame.message, "password")
      assert.include(frame.message, "token")
    }
  })

  it("CONNECT takes any username: a malformed one must fail as AUTH_FAILED, not as a field", () => {
    for (const username of ["al", "a b", "x".repeat(33), "", "ålice"]) {
      const c = accepted(`{"command":"CONNECT","username":${str(username)},"password":"correct horse"}`)
      assert.strictEqual(c.command === "CONNECT" && c.username, username)
    }
  })

  it("CONNECT takes any password or token: a malformed one must fail as AUTH_FAILED, not as a field", () => {
    for (const secret of [`"password":"short"`, `"password":""`, `"token":"not a token"`, `"token":""`]) {
      const c = accepted(`{"command":"CONNECT","username":"alice",${secret}}`)
      assert.strictEqual(c.command, "CONNECT")
    }
  })

  it("unknown extra fields are ignored and never reach the command", () => {
    const c = accepted(
      "{\"command\":\"MSG\",\"text\":\"hi\",\"from\":\"mallory\",\"type\":\"MESSAGE\",\"x\":{\"y\":1}}"
    )
    assert.deepStrictEqual({ ...c }, { command: "MSG", text: "hi" })
    const r = accepted("{\"command\":\"READ\",\"message_id\":3,\"by\":\"mallory\",\"user\":\"mallory\"}")
    assert.deepStrictEqual({ ...r }, { command: "READ", message_id: 3 })
  })
})

describe("Field rules", () => {
  it("username: 3..32 of A-Z a-z 0-9 _ -", () => {
    for (const ok of ["abc", "A_b-9", "x".repeat(32), "___", "---", "Zz9"]) accepted(register(ok))
    for (const bad of ["ab", "x".repeat(33), "", "a b", "ålice", "al.ce", "alice\n", "al@ce", "ali😀"]) {
      assertFieldRefused(register(bad), "username")
    }
  })

  it("password: 8..1024 characters (code points)", () => {
    for (const ok of ["12345678", "😀".repeat(8), "x".repeat(1024), "😀".repeat(1024), "with spaces  "]) {
      accepted(register("alice", ok))
    }
    for (const bad of ["1234567", "😀".repeat(7), "x".repeat(1025), "😀".repeat(1025), ""]) {
      assertFieldRefused(register("alice", bad), "password")
    }
    // 4 emoji are 8 UTF-16 units but 4 characters
    assertFieldRefused(register("alice", "😀".repeat(4)), "password")
  })

  it("text: 1..4096 characters (code points), not only whitespace, newlines allowed", () => {
    for (const ok of ["a", "😀", "x".repeat(4096), "😀".repeat(4096), " hi ", "line 1\nline 2\r\n", "\u200b"]) {
      const c = accepted(msg(ok))
      assert.strictEqual(c.command === "MSG" && c.text, ok)
    }
    for (const bad of ["", " ", "\n", " \t\r\n ", "\u00a0\u3000", "x".repeat(4097), "😀".repeat(4097)]) {
      assertFieldRefused(msg(bad), "text")
    }
    // a lone surrogate cannot be stored or sent as UTF-8
    assertFieldRefused("{\"command\":\"MSG\",\"id\":1,\"text\":\"a\\ud800\"}", "text")
  })

  it("client_msg_id: 1..64 characters", () => {
    const withKey = (key: string) => `{"command":"MSG","id":1,"text":"hi","client_msg_id":${str(key)}}`
    for (const ok of ["k", "x".repeat(64), "😀".repeat(64)]) accepted(withKey(ok))
    for (const bad of ["", "x".repeat(65), "😀".repeat(65)]) assertFieldRefused(withKey(bad), "client_msg_id")
    assertFieldRefused("{\"command\":\"MSG\",\"id\":1,\"text\":\"hi\",\"client_msg_id\":7}", "client_msg_id")
  })

  it("limit: an integer 1..100", () => {
    const history = (limit: string) => `{"command":"HISTORY","id":1,"limit":${limit}}`
    for (const ok of ["1", "50", "100"]) accepted(history(ok))
    for (const bad of ["0", "101", "-1", "1.5", "\"5\"", "null"]) assertFieldRefused(history(bad), "limit")
  })

  it("to: a username, or null or absent for a public message (an unknown one is the server's UNKNOWN_USER)", () => {
    for (const to of ["null", "\"bob\"", "\"no such user!\""]) accepted(`{"command":"MSG","text":"hi","to":${to}}`)
  })
})
