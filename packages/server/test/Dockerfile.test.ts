/**
 * The Dockerfile's build stage as the workspace needs it, checked without
 * Docker: every workspace package's manifest is copied before the frozen
 * install (pnpm refuses a lockfile that names a package it cannot see), and
 * what `pnpm build` reads (`scripts/`) is copied before it runs.
 */
import { assert, describe, it } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { repoRoot } from "./support/ServerProcess.ts"

const lines = Fs.readFileSync(Path.join(repoRoot, "Dockerfile"), "utf8").split("\n")
const indexOf = (pattern: RegExp) => lines.findIndex((l) => pattern.test(l))

describe("Dockerfile", () => {
  it("copies every workspace package's manifest before the install", () => {
    const install = indexOf(/^RUN pnpm install --frozen-lockfile/)
    assert.isAbove(install, 0)
    const packages = Fs.readdirSync(Path.join(repoRoot, "packages")).filter((p) =>
      Fs.existsSync(Path.join(repoRoot, "packages", p, "package.json"))
    )
    for (const p of packages) {
      const copy = indexOf(new RegExp(`^COPY packages/${p}/package\\.json packages/${p}/$`))
      assert.isAtLeast(copy, 0, `the Dockerfile copies packages/${p}/package.json`)
      assert.isBelow(copy, install, `packages/${p}/package.json is copied before the install`)
    }
  })

  it("copies what pnpm build reads before it runs", () => {
    const build = indexOf(/pnpm build/)
    const scripts = JSON.parse(Fs.readFileSync(Path.join(repoRoot, "package.json"), "utf8")).scripts.build as string
    assert.include(scripts, "scripts/build.ts")
    const copy = indexOf(/^COPY scripts \.\/scripts$/)
    assert.isAtLeast(copy, 0, "the Dockerfile copies scripts/")
    assert.isBelow(copy, build)
  })

  it("puts the built web client in the image where the server is told to find it", () => {
    const copy = indexOf(/^COPY --from=build .*\/app\/packages\/web\/dist \.\/web$/)
    assert.isAtLeast(copy, 0, "the runtime stage copies packages/web/dist to /app/web")
    assert.isAbove(copy, indexOf(/^FROM .* AS runtime/))
    assert.isAtLeast(indexOf(/PARLEY_WEB_ROOT=\/app\/web/), 0, "PARLEY_WEB_ROOT points at it")
  })
})
