/**
 * The web client's page, built on the first start from a fresh clone.
 *
 * `pnpm build` builds the page into `packages/web/dist`, and the Docker
 * image ships it built; but someone who clones the repository, installs and
 * runs `pnpm start:server --web-port 8080` has not built anything yet, and
 * should get the page rather than a note telling them to. So when the web
 * port serves the default root, that root has no `index.html`, and the
 * page's sources are beside it (a checkout, not an installed build), the
 * server builds it once with the web package's own Vite before the port
 * opens, saying so in its log. Vite runs in a child process: a build takes
 * a few seconds of CPU and must not hold this process's event loop (the TCP
 * listener is already serving). A failed build is logged with what to do;
 * the port then opens anyway and `/` says the page is not built.
 *
 * A root given with `--web-root` is the operator's: it is never built into.
 */
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import { createRequire } from "node:module"
import * as Path from "node:path"

/** The web package's directory when `root` is its `dist` in a checkout with sources, else undefined. */
export const sourcesFor = (root: string): string | undefined => {
  const web = Path.dirname(root)
  if (Path.basename(root) !== "dist") return undefined
  const hasSources = Fs.existsSync(Path.join(web, "vite.config.ts")) && Fs.existsSync(Path.join(web, "index.html"))
  return hasSources ? web : undefined
}

/** Vite's command-line entry, resolved from the web package (it is that package's dependency). */
const viteBin = (web: string): string | undefined => {
  try {
    const manifest = createRequire(Path.join(web, "package.json")).resolve("vite/package.json")
    const bin = Path.join(Path.dirname(manifest), "bin", "vite.js")
    return Fs.existsSync(bin) ? bin : undefined
  } catch {
    return undefined
  }
}

/** Runs `vite build` in `web`; resolves to its exit code and what it printed last. */
const runVite = (bin: string, web: string) =>
  Effect.async<{ readonly code: number; readonly output: string }>((resume) => {
    const child = ChildProcess.spawn(process.execPath, [bin, "build", "--logLevel", "warn"], {
      cwd: web,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" }
    })
    let output = ""
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString("utf8")).slice(-2000)
    }
    child.stdout.on("data", keep)
    child.stderr.on("data", keep)
    child.on("error", (error) => resume(Effect.succeed({ code: -1, output: error.message })))
    child.on("close", (code) => resume(Effect.succeed({ code: code ?? -1, output })))
    return Effect.sync(() => {
      child.kill("SIGTERM")
    })
  })

/**
 * Builds the page into `root` when it is the default root of a checkout and
 * holds no page yet; otherwise does nothing. Never fails: a failed build is
 * logged, and the server serves its "not built" answer at `/`.
 */
export const ensureWebBuilt = (root: string, isDefaultRoot: boolean) =>
  Effect.gen(function*() {
    if (!isDefaultRoot || Fs.existsSync(Path.join(root, "index.html"))) return
    const web = sourcesFor(root)
    if (web === undefined) return
    const bin = viteBin(web)
    if (bin === undefined) {
      return yield* Effect.logWarning(
        `the web client is not built and Vite is not installed: run \`pnpm install\` then \`pnpm build\``
      )
    }
    yield* Effect.logInfo(`building the web client into ${root} (first start from this checkout, a few seconds)`)
    const started = Date.now()
    const { code, output } = yield* runVite(bin, web)
    if (code === 0 && Fs.existsSync(Path.join(root, "index.html"))) {
      return yield* Effect.logInfo(`built the web client in ${((Date.now() - started) / 1000).toFixed(1)} s`)
    }
    const last = output.trim().split("\n").slice(-3).join(" | ")
    yield* Effect.logError(
      `could not build the web client (vite exited ${code}${last === "" ? "" : `: ${last}`}); ` +
        "run `pnpm build` to see why; / answers that the page is not built meanwhile"
    )
  })
