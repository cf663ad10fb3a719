import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import { decodeCommand } from "@parley/protocol"

describe("decodeCommand", () => {
  it("decodes a MSG and ignores unknown fields", () => {
    const result = decodeCommand('{"command":"MSG","text":"hi","id":3,"from":"mallory"}')
    assert.isTrue(Either.isRight(result))
    if (Either.isRight(result)) {
      assert.strictEqual(result.right.command, "MSG")
      assert.isFalse("from" in result.right)
    }
  })
})
