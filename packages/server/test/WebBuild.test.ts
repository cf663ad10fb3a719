/**
 * The page built on the first start from a fresh clone (`WebBuild.ts`): a
 * copy of the web package's sources in a temporary directory (its
 * node_modules linked to the real one, so Vite and the client core resolve
 * as in the checkout) stands for a clone that was installed but not built.
 * The real Vite builds it; nothing is built into a root the operator chose.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { ensureWebBuilt, sourcesFor } from "../src/WebBuild.ts"
import { tempDir } from "./support/ServerProcess.ts"

const web = Path.resolve(import.meta.dirname, "../../web")

/** A copy of the web package's sources without `dist`, as a fresh clone has it. */
const freshCopy = Effect.gen(function*() {
  const clone = yield* tempDir
  const dir = Path.join(clone, "packages", "web")
  Fs.mkdirSync(dir, { recursive: true })
  Fs.cpSync(Path.join(web, "../../tsconfig.base.json"), Path.join(clone, "tsconfig.base.json"))
  for (const name of ["index.html", "package.json", "vite.config.ts", "tsconfig.json", "src"]) {
    Fs.cpSync(Path.join(web, name), Path.join(dir, name), { recursive: true })
  }
  Fs.symlinkSync(Path.join(web, "node_modules"), Path.join(dir, "node_modules"), "dir")
  return dir
})

describe("the web client built on first start", () => {
  it.scopedLive("builds the page into the default root of a checkout that has none", () =>
    Effect.gen(function*() {
      const dir = yield* freshCopy
      const root = Path.join(dir, "dist")
      assert.strictEqual(sourcesFor(root), dir)
      assert.isFalse(Fs.existsSync(root))
      yield* ensureWebBuilt(root, true)
      const html = Fs.readFileSync(Path.join(root, "index.html"), "utf8")
      assert.match(html, /<script type="module"[^>]* src="\.\/assets\/[^"]+\.js"/)
      const assets = Fs.readdirSync(Path.join(root, "assets"))
      assert.isTrue(assets.some((f) => f.endsWith(".js")) && assets.some((f) => f.endsWith(".css")), assets.join())
      // a second start finds it built and leaves it alone
      const before = Fs.statSync(Path.join(root, "index.html")).mtimeMs
      yield* ensureWebBuilt(root, true)
      assert.strictEqual(Fs.statSync(Path.join(root, "index.html")).mtimeMs, before)
    }), 120_000)

  it.scopedLive("never builds into a root the operator chose, nor where no sources are", () =>
    Effect.gen(function*() {
      const dir = yield* freshCopy
      yield* ensureWebBuilt(Path.join(dir, "dist"), false)
      assert.isFalse(Fs.existsSync(Path.join(dir, "dist")))
      const elsewhere = Path.join(yield* tempDir, "dist")
      assert.isUndefined(sourcesFor(elsewhere))
      yield* ensureWebBuilt(elsewhere, true)
      assert.isFalse(Fs.existsSync(elsewhere))
    }))
})
