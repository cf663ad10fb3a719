/**
 * The examples of protocol-v1.md, written out as wire lines: each decodes or
 * encodes exactly as the contract says.
 */
import { assert, describe, it } from "@effect/vitest"
import {
  Connect,
  decodeCommand,
  Disconnect,
  encodeCommand,
  encodeFrame,
  encodeLine,
  History,
  MAX_FRAME_BYTES,
  MAX_TEXT_CHARS,
  Msg,
  Ping,
  PROTOCOL_VERSION,
  Read,
  Register,
  Revoke,
  ServerFrame,
  Sessions,
  Users
} from "@parley/protocol"
import { Either, Schema } from "effect"

const decodeFrame = Schema.decodeUnknownEither(ServerFrame)

/** A server line is a valid frame, decodes to its JSON, and encodes back to the same JSON. */
const assertServerLine = (line: string) => {
  const json: unknown = JSON.parse(line)
  const decoded = decodeFrame(json)
  assert.isTrue(Either.isRight(decoded), `${line} is a server frame`)
  const frame = Either.getOrThrow(decoded)
  assert.deepStrictEqual(frame, json)
  assert.deepStrictEqual(JSON.parse(encodeLine(frame)), json)
  assert.deepStrictEqual(encodeFrame(frame), new TextEncoder().encode(encodeLine(frame)))
  return frame
}

const assertNotServerLine = (line: string) => {
  assert.isTrue(Either.isLeft(decodeFrame(JSON.parse(line))), `${line} is not a server frame`)
}

/** A client line decodes to the command given, and encodes back to the same JSON. */
const assertCommandLine = (line: string, expected: object) => {
  const decoded = decodeCommand(line)
  assert.isTrue(Either.isRight(decoded), `${line} is a command`)
  const command = Either.getOrThrow(decoded)
  assert.deepStrictEqual(command, expected)
  assert.deepStrictEqual(JSON.parse(new TextDecoder().decode(encodeCommand(command))), JSON.parse(line))
}

const timestamp = "2026-11-25T21:40:00.123Z"
const token = "q7Ks2dF0bN1-x_Yp9LmZ3w"

describe("Golden: HELLO", () => {
  it("is sent as the contract writes it, with the limits in force", () => {
    const line =
      "{\"type\":\"HELLO\",\"protocol\":1,\"server\":\"parley 0.1.0\",\"limits\":{\"max_frame_bytes\":65536,\"max_text_chars\":4096}}"
    const frame = assertServerLine(line)
    assert.strictEqual(encodeLine(frame), line + "\n")
    assert.strictEqual(PROTOCOL_VERSION, 1)
    assert.strictEqual(MAX_FRAME_BYTES, 65536)
    assert.strictEqual(MAX_TEXT_CHARS, 4096)
    assertNotServerLine(line.replace("\"protocol\":1", "\"protocol\":2"))
    assertNotServerLine(line.replace("65536", "0"))
  })
})

describe("Golden: each command and its success reply", () => {
  it("REGISTER -> REGISTERED", () => {
    assertCommandLine(
      "{\"command\":\"REGISTER\",\"id\":1,\"username\":\"alice\",\"password\":\"correct horse\"}",
      new Register({ id: 1, username: "alice", password: "correct horse" })
    )
    assertServerLine("{\"type\":\"REGISTERED\",\"username\":\"alice\",\"id\":1}")
  })

  it("CONNECT with a password, or with a token and resume_after -> CONNECTED", () => {
    assertCommandLine(
      "{\"command\":\"CONNECT\",\"username\":\"Alice\",\"password\":\"correct horse\"}",
      new Connect({ username: "Alice", password: "correct horse" })
    )
    assertCommandLine(
      `{"command":"CONNECT","id":"c1","username":"alice","token":"${token}","resume_after":41}`,
      new Connect({ id: "c1", username: "alice", token, resume_after: 41 })
    )
    const connected =
      `{"type":"CONNECTED","user":"alice","session_id":12,"token":"${token}","online":["alice","bob"],"unread":3,"id":"c1"}`
    assertServerLine(connected)
    // the token must be one CONNECT accepts back; counts are never negative
    assertNotServerLine(connected.replace(token, "not a token"))
    assertNotServerLine(connected.replace("\"unread\":3", "\"unread\":-1"))
  })

  it("MSG public, to null, as a DM, with client_msg_id -> ACK", () => {
    assertCommandLine("{\"command\":\"MSG\",\"text\":\"hello\"}", new Msg({ text: "hello" }))
    assertCommandLine("{\"command\":\"MSG\",\"text\":\"hello\",\"to\":null}", new Msg({ text: "hello", to: null }))
    assertCommandLine(
      "{\"command\":\"MSG\",\"id\":7,\"text\":\"two\\nlines\",\"to\":\"bob\",\"client_msg_id\":\"k-1\"}",
      new Msg({ id: 7, text: "two\nlines", to: "bob", client_msg_id: "k-1" })
    )
    assertServerLine(`{"type":"ACK","message_id":42,"timestamp":"${timestamp}","client_msg_id":"k-1","id":7}`)
    assertServerLine(`{"type":"ACK","message_id":42,"timestamp":"${timestamp}"}`)
  })

  it("HISTORY of the timeline or with a user, paged either way -> HISTORY", () => {
    assertCommandLine("{\"command\":\"HISTORY\"}", new History({}))
    assertCommandLine(
      "{\"command\":\"HISTORY\",\"with\":\"bob\",\"before\":100,\"limit\":100}",
      new History({ with: "bob", before: 100, limit: 100 })
    )
    assertCommandLine("{\"command\":\"HISTORY\",\"after\":0,\"limit\":1}", new History({ after: 0, limit: 1 }))
    assertServerLine(
      `{"type":"HISTORY","messages":[` +
        `{"type":"MESSAGE","message_id":1,"from":"alice","to":null,"text":"hi all","timestamp":"${timestamp}"},` +
        `{"type":"MESSAGE","message_id":2,"from":"bob","to":"alice","text":"hi you","timestamp":"${timestamp}"}` +
        `],"has_more":true,"id":"h"}`
    )
    assertServerLine("{\"type\":\"HISTORY\",\"messages\":[],\"has_more\":false}")
  })

  it("READ -> OK", () => {
    assertCommandLine("{\"command\":\"READ\",\"message_id\":42}", new Read({ message_id: 42 }))
    assertServerLine("{\"type\":\"OK\"}")
    assertServerLine("{\"type\":\"OK\",\"id\":\"r\"}")
  })

  it("USERS -> USERS", () => {
    assertCommandLine("{\"command\":\"USERS\"}", new Users({}))
    assertServerLine("{\"type\":\"USERS\",\"online\":[\"alice\",\"bob\"]}")
  })

  it("SESSIONS -> SESSIONS", () => {
    assertCommandLine("{\"command\":\"SESSIONS\"}", new Sessions({}))
    assertServerLine(
      "{\"type\":\"SESSIONS\",\"sessions\":[{\"session_id\":3,\"ip_address\":\"127.0.0.1\",\"connect_time\":\"2026-11-25T23:50:01.410Z\",\"current\":true}]}"
    )
    assertNotServerLine(
      "{\"type\":\"SESSIONS\",\"sessions\":[{\"session_id\":3,\"ip_address\":\"127.0.0.1\",\"connect_time\":\"yesterday\",\"current\":true}]}"
    )
  })

  it("REVOKE a session or all others -> OK; exactly one of the two", () => {
    assertCommandLine("{\"command\":\"REVOKE\",\"session_id\":7}", new Revoke({ session_id: 7 }))
    assertCommandLine("{\"command\":\"REVOKE\",\"all_others\":true}", new Revoke({ all_others: true }))
    for (
      const line of [
        "{\"command\":\"REVOKE\"}",
        "{\"command\":\"REVOKE\",\"all_others\":false}",
        "{\"command\":\"REVOKE\",\"session_id\":7,\"all_others\":true}",
        "{\"command\":\"REVOKE\",\"session_id\":-1}"
      ]
    ) {
      const result = decodeCommand(line)
      assert.isTrue(Either.isLeft(result) && result.left.error._tag === "InvalidCommand", line)
    }
  })

  it("PING -> PONG, echoing a string or a number id", () => {
    assertCommandLine("{\"command\":\"PING\"}", new Ping({}))
    assertCommandLine("{\"command\":\"PING\",\"id\":\"p-1\"}", new Ping({ id: "p-1" }))
    assertCommandLine("{\"command\":\"PING\",\"id\":-2.5}", new Ping({ id: -2.5 }))
    assertServerLine("{\"type\":\"PONG\"}")
    assertServerLine("{\"type\":\"PONG\",\"id\":\"p-1\"}")
    assertServerLine("{\"type\":\"PONG\",\"id\":-2.5}")
  })

  it("DISCONNECT -> BYE", () => {
    assertCommandLine("{\"command\":\"DISCONNECT\"}", new Disconnect({}))
    assertServerLine("{\"type\":\"BYE\"}")
    assertServerLine("{\"type\":\"BYE\",\"id\":9}")
  })
})

describe("Golden: errors and closing", () => {
  it("ERROR carries a code, a message and the request's id", () => {
    assertServerLine("{\"type\":\"ERROR\",\"code\":\"NOT_AUTHENTICATED\",\"message\":\"CONNECT first\",\"id\":3}")
    assertServerLine("{\"type\":\"ERROR\",\"code\":\"INVALID_JSON\",\"message\":\"the line is not valid JSON\"}")
    assertNotServerLine("{\"type\":\"ERROR\",\"code\":\"TEAPOT\",\"message\":\"no\"}")
    assertNotServerLine("{\"type\":\"ERROR\",\"code\":\"NOT_FOUND\"}")
  })

  it("every error code of the contract is a valid ERROR", () => {
    for (
      const code of [
        "INVALID_JSON",
        "INVALID_COMMAND",
        "UNKNOWN_COMMAND",
        "FRAME_TOO_LARGE",
        "NOT_AUTHENTICATED",
        "ALREADY_AUTHENTICATED",
        "AUTH_FAILED",
        "USERNAME_TAKEN",
        "UNKNOWN_USER",
        "NOT_FOUND",
        "RATE_LIMITED",
        "INTERNAL"
      ]
    ) assertServerLine(`{"type":"ERROR","code":"${code}","message":"m","id":"x"}`)
  })

  it("RATE_LIMITED carries retry_after_ms", () => {
    assertServerLine("{\"type\":\"ERROR\",\"code\":\"RATE_LIMITED\",\"message\":\"slow down\",\"retry_after_ms\":250}")
    assertNotServerLine(
      "{\"type\":\"ERROR\",\"code\":\"RATE_LIMITED\",\"message\":\"slow down\",\"retry_after_ms\":-1}"
    )
  })

  it("BYE gives one of the contract's reasons", () => {
    for (const reason of ["idle", "slow_consumer", "shutdown", "too_many_connections", "auth_timeout", "revoked"]) {
      assertServerLine(`{"type":"BYE","reason":"${reason}"}`)
    }
    assertNotServerLine("{\"type\":\"BYE\",\"reason\":\"bored\"}")
  })
})

describe("Golden: events", () => {
  it("MESSAGE: to is null for a public message, the recipient for a DM", () => {
    assertServerLine(
      `{"type":"MESSAGE","message_id":5,"from":"alice","to":null,"text":"hello","timestamp":"${timestamp}"}`
    )
    assertServerLine(
      `{"type":"MESSAGE","message_id":6,"from":"alice","to":"bob","text":"psst","timestamp":"${timestamp}"}`
    )
    // `to` is always present
    assertNotServerLine(`{"type":"MESSAGE","message_id":5,"from":"alice","text":"hello","timestamp":"${timestamp}"}`)
  })

  it("timestamps are ISO 8601 UTC with milliseconds", () => {
    const message = (ts: string) =>
      `{"type":"MESSAGE","message_id":5,"from":"alice","to":null,"text":"hello","timestamp":"${ts}"}`
    assertServerLine(message("2026-11-25T21:40:00.123Z"))
    assertServerLine(message("2028-02-29T23:59:59.999Z"))
    for (
      const ts of [
        "2026-11-25T21:40:00Z",
        "2026-11-25T21:40:00.123+01:00",
        "2026-11-25 21:40:00.123Z",
        "2026-13-25T21:40:00.123Z",
        "2026-02-30T21:40:00.123Z",
        "2026-11-25T24:40:00.123Z"
      ]
    ) assertNotServerLine(message(ts))
  })

  it("PRESENCE is online or offline", () => {
    assertServerLine("{\"type\":\"PRESENCE\",\"user\":\"bob\",\"status\":\"online\"}")
    assertServerLine("{\"type\":\"PRESENCE\",\"user\":\"bob\",\"status\":\"offline\"}")
    assertNotServerLine("{\"type\":\"PRESENCE\",\"user\":\"bob\",\"status\":\"away\"}")
  })

  it("RECEIPT names the message and the reader", () => {
    assertServerLine("{\"type\":\"RECEIPT\",\"message_id\":6,\"by\":\"bob\"}")
  })

  it("TRUNCATED names the oldest message that will be sent", () => {
    assertServerLine("{\"type\":\"TRUNCATED\",\"before\":1001}")
  })
})
