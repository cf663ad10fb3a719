/**
 * The metrics endpoint from outside, as Prometheus and a load balancer see
 * it: plain HTTP requests, and a strict reader of the Prometheus text format
 * (version 0.0.4) that fails on any line it does not understand.
 */
import { assert } from "@effect/vitest"
import { Data, Effect } from "effect"
import * as Http from "node:http"
import type { ServerProcess } from "./ServerProcess.ts"

export class HttpError extends Data.TaggedError("HttpError")<{ readonly message: string }> {}

export interface HttpReply {
  readonly status: number
  readonly headers: Http.IncomingHttpHeaders
  readonly body: string
}

/** One request on a fresh connection; bounded, so a server that never answers fails the test. */
export const request = (port: number, path: string, method = "GET"): Effect.Effect<HttpReply, HttpError> =>
  Effect.async<HttpReply, HttpError>((resume) => {
    const req = Http.request({ host: "127.0.0.1", port, path, method, agent: false }, (res) => {
      const chunks: Array<Buffer> = []
      res.on("data", (chunk: Buffer) => chunks.push(chunk))
      res.on(
        "end",
        () =>
          resume(
            Effect.succeed({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString("utf8")
            })
          )
      )
    })
    req.on("error", (error) => resume(Effect.fail(new HttpError({ message: `${method} ${path}: ${error.message}` }))))
    req.end()
    return Effect.sync(() => req.destroy())
  }).pipe(
    Effect.timeoutFail({
      duration: "10 seconds",
      onTimeout: () => new HttpError({ message: `${method} ${path}: no answer within 10 s` })
    })
  )

/** The metrics port a server started with `--metrics-port 0` announced. */
export const metricsPort = (server: ServerProcess): number => {
  const match = /Parley metrics on http:\/\/[^\s]+:(\d+)\//.exec(server.output())
  assert.isNotNull(match, `no metrics line in:\n${server.output()}`)
  return Number(match![1])
}

/** Samples keyed `name{label="value",...}` (labels sorted; no braces without labels). */
export type Samples = ReadonlyMap<string, number>

export interface Exposition {
  readonly samples: Samples
  /** Family name → its `# TYPE`. */
  readonly types: ReadonlyMap<string, string>
  /** Families with a `# HELP` line. */
  readonly helped: ReadonlySet<string>
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"$/
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"])

/** The family a sample belongs to: a histogram's `_bucket`, `_sum` and `_count` are its own. */
const familyOf = (name: string, types: ReadonlyMap<string, string>): string | undefined => {
  if (types.has(name)) return name
  const base = name.replace(/_(bucket|sum|count)$/, "")
  return base !== name && (types.get(base) === "histogram" || types.get(base) === "summary") ? base : undefined
}

const parseLabels = (raw: string | undefined, line: string): string => {
  if (raw === undefined || raw === "") return ""
  // label values here never hold a comma or a brace
  const pairs = raw.split(",").map((pair) => {
    const match = LABEL.exec(pair)
    assert.isNotNull(match, `bad label ${JSON.stringify(pair)} in: ${line}`)
    return `${match![1]}="${match![2]}"`
  })
  return `{${pairs.sort().join(",")}}`
}

/** Reads a whole exposition; any line that is not a comment, HELP, TYPE or a sample of a typed family fails. */
export const parseExposition = (text: string): Exposition => {
  const samples = new Map<string, number>()
  const types = new Map<string, string>()
  const helped = new Set<string>()
  assert.isTrue(text.endsWith("\n"), "the exposition ends with a newline")
  for (const line of text.split("\n")) {
    if (line === "") continue
    if (line.startsWith("# HELP ")) {
      helped.add(line.split(" ")[2]!)
      continue
    }
    if (line.startsWith("# TYPE ")) {
      const [, , name, type] = line.split(" ")
      assert.isTrue(TYPES.has(type!), `unknown type in: ${line}`)
      assert.isFalse(types.has(name!), `${name} typed twice`)
      types.set(name!, type!)
      continue
    }
    if (line.startsWith("#")) continue
    const match = SAMPLE.exec(line)
    assert.isNotNull(match, `not a sample: ${line}`)
    const [, name, labels, raw] = match!
    assert.isDefined(familyOf(name!, types), `a sample before its # TYPE: ${line}`)
    // Prometheus reads values with Go's ParseFloat, which takes NaN in any case (prom-client writes "Nan")
    const value = raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : /^nan$/i.test(raw!) ? NaN : Number(raw)
    assert.isFalse(!/^nan$/i.test(raw!) && Number.isNaN(value), `bad value in: ${line}`)
    const key = `${name}${parseLabels(labels, line)}`
    assert.isFalse(samples.has(key), `${key} twice`)
    samples.set(key, value)
  }
  return { samples, types, helped }
}

/** Scrapes `/metrics` and reads it. */
export const scrape = (port: number): Effect.Effect<Exposition, HttpError> =>
  Effect.map(request(port, "/metrics"), (reply) => {
    assert.strictEqual(reply.status, 200, reply.body)
    assert.match(String(reply.headers["content-type"]), /^text\/plain; version=0\.0\.4; charset=utf-8$/)
    return parseExposition(reply.body)
  })

/** A sample's value; a missing sample fails. */
export const value = (samples: Samples, key: string): number => {
  const found = samples.get(key)
  assert.isDefined(found, `no sample ${key}`)
  return found!
}
