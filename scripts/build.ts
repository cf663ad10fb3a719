/**
 * `pnpm build`: compiles the two programs to plain JavaScript, one file each,
 * that run with `node` alone (no tsx, no TypeScript at run time), and the web
 * client's page, which the server serves on `--web-port`:
 *
 *   packages/server/dist/parley-server.js   (and its chunks in dist/lib)
 *   packages/client/dist/parley.js
 *   packages/web/dist/index.html            (and its script and stylesheet in dist/assets, by Vite)
 *
 * esbuild bundles each program with its libraries into a few files (Effect and the rest),
 * which is what makes start-up fast: a few files parsed instead of a
 * thousand modules resolved. Native addons (the SQLite driver, the password hasher)
 * cannot be bundled and are loaded from node_modules at run time, as is
 * anything a library only tries to load (pg-native). The type check is
 * `pnpm typecheck`'s job; this only strips types.
 */
import * as esbuild from "esbuild"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const root = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")

const programs = [
  { name: "parley-server", entry: "packages/server/src/bin.ts", outdir: "packages/server/dist" },
  { name: "parley", entry: "packages/client/src/bin.ts", outdir: "packages/client/dist" }
] as const

/** Loaded from node_modules at run time: native addons, and optional modules nothing here uses. */
const external = ["better-sqlite3", "@node-rs/argon2", "pg-native", "bufferutil", "utf-8-validate"]

// bundled CommonJS libraries call `require` for Node's own modules; an ES module has none
// (the entry's own `#!/usr/bin/env node` line is kept first by esbuild)
const banner = [
  "import { createRequire as __parleyCreateRequire } from \"node:module\";",
  "const require = __parleyCreateRequire(import.meta.url);"
].join("\n")

const started = Date.now()
for (const program of programs) {
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: { [program.name]: program.entry },
    outdir: program.outdir,
    // the entry stays tiny (it holds signals, then imports the program): the program is a
    // chunk of its own, so a signal during start-up is held before the big file is parsed
    splitting: true,
    chunkNames: "lib/[name]-[hash]",
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    external,
    banner: { js: banner },
    sourcemap: "linked",
    legalComments: "linked",
    logLevel: "warning",
    metafile: true
  })
  const out = `${program.outdir}/${program.name}.js`
  const bytes = Object.entries(result.metafile.outputs)
    .filter(([file]) => file.endsWith(".js"))
    .reduce((sum, [, output]) => sum + output.bytes, 0)
  const inputs = Object.keys(result.metafile.inputs).length
  Fs.chmodSync(Path.join(root, out), 0o755)
  console.log(`built ${out} (${(bytes / 1024 / 1024).toFixed(1)} MiB from ${inputs} modules)`)
}
// the page: Vite is the web package's own dependency, so it is found from there
const web = Path.join(root, "packages/web")
const vite = (await import(
  pathToFileURL(createRequire(Path.join(web, "package.json")).resolve("vite")).href
)) as { readonly build: (config: Readonly<Record<string, unknown>>) => Promise<unknown> }
await vite.build({ root: web, configFile: Path.join(web, "vite.config.ts"), logLevel: "warn" })
const assets = Fs.readdirSync(Path.join(web, "dist/assets")).filter((f) => !f.endsWith(".map"))
const kib = assets.reduce((sum, f) => sum + Fs.statSync(Path.join(web, "dist/assets", f)).size, 0) / 1024
console.log(`built packages/web/dist/index.html (${kib.toFixed(0)} KiB of script and style)`)
console.log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`)
