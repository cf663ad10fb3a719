/**
 * The codec: a line to a command or a typed protocol error, and a server
 * frame to one encoded line (bytes that can be written to many sockets).
 */
import { Either, ParseResult, Schema } from "effect"
import { type Command, type CommandName, commandSchemas } from "./Commands.ts"
import { InvalidCommand, InvalidJson, UnknownCommand } from "./Errors.ts"
import type { RequestId } from "./Fields.ts"
import type { FrameEvent } from "./Framer.ts"
import type { ServerFrame } from "./ServerFrames.ts"

/** Why a line is not a command, with the request id when one could be read. */
export interface DecodeFailure {
  readonly error: InvalidJson | InvalidCommand | UnknownCommand
  readonly id: RequestId | undefined
}

const parseOptions = { errors: "first", onExcessProperty: "ignore" } as const

const decoders = Object.fromEntries(
  Object.entries(commandSchemas).map(([name, schema]) => [
    name,
    Schema.decodeUnknownEither(schema as Schema.Schema<Command, unknown>, parseOptions)
  ])
) as { readonly [K in CommandName]: (u: unknown) => Either.Either<Command, ParseResult.ParseError> }

const hasOwn = Object.prototype.hasOwnProperty

const fail = (error: DecodeFailure["error"], id: RequestId | undefined): Either.Either<Command, DecodeFailure> =>
  Either.left({ error, id })

/** Deepest nesting of arrays and objects a frame may hold (every command is one flat object). */
export const MAX_NESTING = 32

/** Longest error message: it may quote a field's name, never what was sent in it. */
const MAX_MESSAGE_CHARS = 200

/**
 * Whether `value` nests arrays or objects more than `max` levels deep. Walked
 * with an explicit stack: a value sent by a client never meets recursion here,
 * nor anywhere after this check (Schema's error formatting recurses into it).
 */
const nestsDeeperThan = (value: unknown, max: number): boolean => {
  const stack: Array<unknown> = [value]
  const depths: Array<number> = [1]
  while (stack.length > 0) {
    const v = stack.pop()
    const depth = depths.pop()!
    if (typeof v !== "object" || v === null) continue
    if (depth > max) return true
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === "object" && child !== null) {
        stack.push(child)
        depths.push(depth + 1)
      }
    }
  }
  return false
}

/** Most characters of a client's name an error message quotes. */
const MAX_QUOTED_CHARS = 64
/** Longest quoted name, quotes and JSON escapes included: 64 NULs would be 386 characters. */
const MAX_QUOTED_LENGTH = 100

/**
 * A name a client sent (a command, a username) quoted for an error message:
 * JSON-escaped, cut to 64 characters and to 100 characters of escaped text,
 * so the message stays short whatever the name holds.
 */
export const quoteName = (name: string): string => {
  let out = "\""
  let chars = 0
  for (const ch of name) {
    const escaped = JSON.stringify(ch).slice(1, -1)
    if (chars === MAX_QUOTED_CHARS || out.length + escaped.length + 1 > MAX_QUOTED_LENGTH) break
    out += escaped
    chars++
  }
  return out + "\""
}

/** Schema's type messages in the contract's "must be …" style. */
const typeWords: Readonly<Record<string, string>> = {
  "Expected string": "must be a string",
  "Expected number": "must be a number",
  "Expected an integer": "must be an integer",
  "Expected boolean": "must be true or false",
  "Expected null": "must be null"
}

const plainWords = (message: string): string => typeWords[message] ?? message

/**
 * Names the first failing field of a parse error, e.g. `text: must be 1..4096
 * characters (got 0)`. Schema's own messages end with the value received
 * (`Expected string, actual [...]`): that part is dropped, so a reply never
 * echoes what was sent, and the whole is capped.
 */
export const describeParseError = (error: ParseResult.ParseError): string => {
  const issue = ParseResult.ArrayFormatter.formatErrorSync(error)[0]
  if (issue === undefined) return "invalid command"
  const field = issue.path.length > 0 ? issue.path.map((p) => String(p).slice(0, 32)).join(".") : undefined
  const raw = issue._tag === "Missing" ? "is required" : issue.message
  const actual = raw.indexOf(", actual ")
  const message = plainWords(actual === -1 ? raw : raw.slice(0, actual))
  const full = field === undefined ? message : `${field}: ${message}`
  return full.length <= MAX_MESSAGE_CHARS ? full : `${full.slice(0, MAX_MESSAGE_CHARS - 1)}…`
}

/** Decodes one line (JSON text) into a command, or says which protocol error it is. */
export const decodeCommand = (line: string): Either.Either<Command, DecodeFailure> => {
  let json: unknown
  try {
    json = JSON.parse(line)
  } catch {
    return fail(new InvalidJson({ message: "the line is not valid JSON" }), undefined)
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return fail(new InvalidCommand({ message: "a command must be a JSON object" }), undefined)
  }
  const frame = json as Record<string, unknown>
  let id: RequestId | undefined
  if (hasOwn.call(frame, "id")) {
    const raw = frame.id
    if (typeof raw === "string" || (typeof raw === "number" && Number.isFinite(raw))) id = raw
    else if (raw !== undefined) {
      return fail(new InvalidCommand({ message: "id: must be a string or a number" }), undefined)
    }
  }
  if (nestsDeeperThan(frame, MAX_NESTING)) {
    return fail(
      new InvalidCommand({ message: `a command must not nest values more than ${MAX_NESTING} levels deep` }),
      id
    )
  }
  const name = frame.command
  if (typeof name !== "string") {
    return fail(new InvalidCommand({ message: "command: must be a string naming the command" }), id)
  }
  const decode = hasOwn.call(decoders, name) ? decoders[name as CommandName] : undefined
  if (decode === undefined) {
    // `msg` for `MSG`: say what is wrong, not only that it is
    const upper = name.length <= 16 ? name.toUpperCase() : ""
    const hint = hasOwn.call(decoders, upper) ? `: command names are upper case (${upper})` : ""
    return fail(new UnknownCommand({ message: `unknown command ${quoteName(name)}${hint}` }), id)
  }
  const result = decode(frame)
  return Either.isRight(result)
    ? Either.right(result.right)
    : fail(new InvalidCommand({ message: describeParseError(result.left) }), id)
}

/** Decodes one framer event: a line becomes a command; `Malformed` is `INVALID_JSON`. */
export const decodeEvent = (
  event: Exclude<FrameEvent, { _tag: "TooLarge" }>
): Either.Either<Command, DecodeFailure> =>
  event._tag === "Line"
    ? decodeCommand(event.text)
    : fail(new InvalidJson({ message: event.message ?? "the line is not valid UTF-8" }), undefined)

const utf8 = new TextEncoder()

/** One server frame as its wire line, newline included. */
export const encodeLine = (frame: ServerFrame): string => JSON.stringify(frame) + "\n"

/** One server frame as wire bytes; encode once, write to every recipient. */
export const encodeFrame = (frame: ServerFrame): Uint8Array => utf8.encode(encodeLine(frame))

/** A command as its wire line, newline included (for clients and tools). */
export const encodeCommand = (command: Command): Uint8Array => utf8.encode(JSON.stringify(command) + "\n")
