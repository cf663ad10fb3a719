/**
 * The client core runs in a browser: its entry (`src/browser.ts`) is bundled by esbuild for
 * `platform: "browser"`, and no module in its graph may import a Node built-in (`node:net`,
 * `fs`, ...). The Node entry, which adds the TCP transport, is bundled the same way to show that
 * the check does catch one.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as esbuild from "esbuild"
import { builtinModules } from "node:module"
import * as Path from "node:path"

const builtins = new Set(builtinModules)

/** Every import of a Node built-in in the graph of `entry`, as `importer -> specifier`. */
const nodeImports = (entry: string) =>
  Effect.promise(async () => {
    const found: Array<string> = []
    const result = await esbuild.build({
      entryPoints: [Path.join(import.meta.dirname, "../src", entry)],
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      logLevel: "silent",
      plugins: [{
        name: "no-node-builtins",
        setup(build) {
          build.onResolve({ filter: /.*/ }, (args) => {
            if (args.path.startsWith("node:") || builtins.has(args.path.split("/")[0]!)) {
              found.push(`${Path.relative(process.cwd(), args.importer)} -> ${args.path}`)
              return { path: args.path, external: true }
            }
            return undefined
          })
        }
      }]
    })
    return { found, errors: result.errors.length, bytes: result.outputFiles[0]?.contents.length ?? 0 }
  })

describe("the client core in a browser", () => {
  it.effect("bundles for the browser with no node:* module in its graph", () =>
    Effect.gen(function*() {
      const core = yield* nodeImports("browser.ts")
      assert.deepStrictEqual(core.found, [])
      assert.strictEqual(core.errors, 0)
      assert.isAbove(core.bytes, 0)
    }), 60_000)

  it.effect("the check catches the TCP transport of the Node entry", () =>
    Effect.gen(function*() {
      const node = yield* nodeImports("index.ts")
      assert.isTrue(node.found.some((f) => f.includes("TcpTransport.ts -> node:net")), node.found.join("\n"))
    }), 60_000)
})
