import { assert, describe, it } from "@effect/vitest"
import { cleanCliText, invokedAs } from "../src/CliOutput.ts"

describe("invokedAs", () => {
  it("says how the program was started, as a person would type it again", () => {
    assert.strictEqual(
      invokedAs("parley-server", "start:server", { npm_lifecycle_event: "start:server" }),
      "pnpm start:server"
    )
    assert.strictEqual(
      invokedAs("parley-server", "start:server", {}, ["/usr/bin/node", "/usr/local/bin/parley-server"], []),
      "parley-server"
    )
    assert.strictEqual(
      invokedAs("parley", "start:client", {}, ["/usr/bin/node", `${process.cwd()}/packages/client/dist/parley.js`], []),
      "node packages/client/dist/parley.js"
    )
    assert.strictEqual(
      invokedAs("parley-server", "start:server", {}, ["node", `${process.cwd()}/packages/server/src/bin.ts`], [
        "--import",
        "tsx"
      ]),
      "node --import tsx packages/server/src/bin.ts"
    )
  })
})

describe("cleanCliText", () => {
  const help = [
    "\x1b[1mUSAGE\x1b[0m",
    "",
    "$ parley-server [--host text]",
    "",
    "--host text",
    "",
    "  A user-defined piece of text.",
    "",
    "  Address to listen on.",
    "",
    "  This option can be set from environment variables.",
    "",
    "$ copy-db --from file"
  ].join("\n")

  it("drops the filler and the ANSI codes, and names the program as it was started in usage lines", () => {
    const text = cleanCliText(help, false, { program: "parley-server", invokedAs: "pnpm start:server" })
    assert.strictEqual(
      text,
      [
        "USAGE",
        "",
        "$ pnpm start:server [--host text]",
        "",
        "--host text",
        "",
        "  Address to listen on.",
        "",
        "$ pnpm start:server copy-db --from file"
      ].join("\n")
    )
  })

  it("keeps ANSI on a terminal, and usage lines as they are without an invocation", () => {
    const text = cleanCliText(help, true)
    assert.include(text, "\x1b[1mUSAGE")
    assert.include(text, "$ parley-server [--host text]")
    assert.notInclude(text, "A user-defined piece of text.")
  })
})
