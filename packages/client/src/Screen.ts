/**
 * The interactive terminal: a readline prompt at the bottom, a status line
 * just above it (and above that, lines still pending, such as messages not yet
 * acknowledged), and everything else printed above them. Printing clears that
 * block and the (possibly wrapped) input line, writes, then redraws both with
 * the cursor where it was, so a message arriving mid-typing never mixes into
 * the half-typed line. Once the input is closed (Ctrl-D) the block is still
 * kept up to date, so the last status shown is the true one.
 */
import { Effect, Queue, type Scope } from "effect"
import * as readline from "node:readline"
import { displayWidth, fitWidth, type Style } from "./Style.ts"

/** What the chat program draws on. */
export interface Screen {
  /** Prints lines above the status line and the prompt. */
  readonly print: (text: string) => void
  /** Replaces the status line (shown only on a terminal; elsewhere changes are printed). */
  readonly status: (text: string) => void
  /** Replaces the lines kept just above the status line, one row each (elsewhere new ones are printed). */
  readonly pending: (lines: ReadonlyArray<string>) => void
  /** Lines typed by the user; ends (`null`) on Ctrl-D, Ctrl-C or a closed input. */
  readonly lines: Queue.Dequeue<string | null>
  /** Clears the terminal, leaving the status line and the prompt (a no-op when not a terminal). */
  readonly clear: () => void
}

/** What Tab completes the word before the cursor from: the line typed so far gives the candidates. */
export type Completer = (line: string) => ReadonlyArray<string>

/**
 * Tab completion of the last word of the line: candidates that start with it,
 * ignoring case. One candidate replaces the word; several are listed by
 * readline (a second Tab), as shells do.
 */
const completeWord = (candidates: Completer) => (line: string): [Array<string>, string] => {
  const word = /(\S*)$/.exec(line)?.[1] ?? ""
  const lower = word.toLowerCase()
  const hits = candidates(line).filter((c) => c.toLowerCase().startsWith(lower))
  return [hits, word]
}

type Output = NodeJS.WritableStream & { isTTY?: boolean; columns?: number }

/** Not a terminal: lines are printed as they come, status changes and new pending lines too. */
const plainScreen = (output: Output, lines: Queue.Queue<string | null>): Screen => {
  let last = ""
  let shown: ReadonlyArray<string> = []
  return {
    print: (text) => void output.write(text + "\n"),
    status: (text) => {
      if (text !== last) output.write(text + "\n")
      last = text
    },
    pending: (next) => {
      for (const line of next) if (!shown.includes(line)) output.write(line + "\n")
      shown = next
    },
    lines,
    clear: () => {}
  }
}

/** A terminal: the block (pending lines, status line) and the prompt stay at the bottom. */
const terminalScreen = (
  rl: readline.Interface,
  output: Output,
  style: Style,
  prompt: string,
  lines: Queue.Queue<string | null>,
  input: { readonly closed: boolean }
): Screen => {
  let statusLine = ""
  let pendingLines: ReadonlyArray<string> = []
  // rows of the block as last drawn, between the printed lines and the prompt
  let blockRows = 0
  const fit = (text: string) => fitWidth(text, Math.max(10, (output.columns ?? 80) - 1))
  const writeBlock = () => {
    // one row each, so the next redraw knows how far up the block starts
    for (const line of pendingLines) output.write(fit(line) + "\n")
    output.write(style.inverse(fit(statusLine)) + "\n")
    blockRows = pendingLines.length + 1
  }
  // readline redraws the input from the row its cursor was on when it last drew it (the cursor's
  // row inside a wrapped line), moving up that many rows first. We have just left the cursor at
  // the start of the row where the prompt belongs, so step down as many rows (newlines scroll
  // where a cursor move would stop at the bottom) for it to land there; the redrawn input covers them.
  const redrawInput = (cursorRows: number) => {
    if (cursorRows > 0) output.write("\n".repeat(cursorRows))
    rl.prompt(true)
  }
  const redraw = (above: string | undefined) => {
    // from the cursor (inside the input, maybe on a wrapped row; after close, the row below the
    // block) up to the top of the block
    const rows = input.closed ? 0 : rl.getCursorPos().rows
    readline.moveCursor(output, 0, -(rows + blockRows))
    readline.cursorTo(output, 0)
    readline.clearScreenDown(output)
    if (above !== undefined) output.write(above + "\n")
    writeBlock()
    if (!input.closed) redrawInput(rows)
  }
  writeBlock()
  rl.prompt()
  const promptWidth = displayWidth(prompt)
  rl.on("line", (line) => {
    // Enter left the typed line on screen with the cursor below it: wipe it
    // (and the block above it) so what was said appears once, as a message
    const columns = Math.max(1, output.columns ?? 80)
    const rows = Math.floor((promptWidth + displayWidth(line)) / columns) + 1
    readline.moveCursor(output, 0, -(rows + blockRows))
    readline.cursorTo(output, 0)
    readline.clearScreenDown(output)
    // readline has already forgotten the finished line's rows, so it draws the prompt right here
    writeBlock()
    rl.prompt()
    Queue.unsafeOffer(lines, line)
  })
  return {
    print: (text) => redraw(text),
    status: (text) => {
      if (text === statusLine) return
      statusLine = text
      redraw(undefined)
    },
    pending: (next) => {
      if (next.length === pendingLines.length && next.every((l, i) => l === pendingLines[i])) return
      pendingLines = next
      redraw(undefined)
    },
    lines,
    clear: () => {
      if (input.closed) return
      const rows = rl.getCursorPos().rows
      readline.cursorTo(output, 0, 0)
      readline.clearScreenDown(output)
      writeBlock()
      redrawInput(rows)
    }
  }
}

/** Ctrl-N (1) or Ctrl-P (-1) was pressed: the chat's next or previous room. */
export type Cycle = (step: 1 | -1) => void

/**
 * Ctrl-N / Ctrl-P call `onCycle`. Readline binds them to its history too and cannot be told not
 * to, so the line being typed is noted before readline sees the key and put back after.
 */
const cycleKeys = (rl: readline.Interface, input: NodeJS.ReadableStream, onCycle: Cycle) => {
  let typed = ""
  input.prependListener("keypress", () => void (typed = rl.line))
  input.on("keypress", (_text: string | undefined, key: { ctrl?: boolean; name?: string } | undefined) => {
    if (key?.ctrl !== true || (key.name !== "n" && key.name !== "p")) return
    if (rl.line !== typed) {
      rl.write(null, { ctrl: true, name: "e" })
      rl.write(null, { ctrl: true, name: "u" })
      rl.write(typed)
    }
    onCycle(key.name === "n" ? 1 : -1)
  })
}

/** Opens the screen on stdin/stdout; closes readline with the scope. */
export const open = (
  style: Style,
  prompt = "> ",
  input: NodeJS.ReadableStream & { isTTY?: boolean } = process.stdin,
  output: Output = process.stdout,
  candidates: Completer = () => [],
  onCycle?: Cycle
): Effect.Effect<Screen, never, Scope.Scope> =>
  Effect.gen(function*() {
    const lines = yield* Queue.unbounded<string | null>()
    const tty = input.isTTY === true && output.isTTY === true
    // Bound to no interface, the keypress decoder cannot switch readline to its fast path for
    // pasted text, which writes characters without noting the row the cursor wrapped onto; the
    // redraw relies on readline's idea of that row being the cursor's real row.
    if (tty) readline.emitKeypressEvents(input)
    const state = { closed: false }
    const wipeInput = (rl: readline.Interface) => {
      readline.moveCursor(output, 0, -rl.getCursorPos().rows)
      readline.cursorTo(output, 0)
      readline.clearScreenDown(output)
    }
    const rl = yield* Effect.acquireRelease(
      Effect.sync(() =>
        readline.createInterface({
          input,
          output,
          terminal: tty,
          prompt: style.bold(prompt),
          completer: completeWord(candidates)
        })
      ),
      (rl) =>
        Effect.sync(() => {
          // leave the screen ending with the last status, and the shell prompt on a clean row
          if (tty && !state.closed) wipeInput(rl)
          rl.close()
        })
    )
    rl.on("close", () => {
      // from here on readline must not be touched: prompt() would resume stdin and keep the process alive
      if (tty && !state.closed) wipeInput(rl)
      state.closed = true
      Queue.unsafeOffer(lines, null)
    })
    rl.on("SIGINT", () => void Queue.unsafeOffer(lines, null))
    if (tty && onCycle !== undefined) cycleKeys(rl, input, onCycle)
    if (tty) return terminalScreen(rl, output, style, prompt, lines, state)
    rl.on("line", (line) => void Queue.unsafeOffer(lines, line))
    return plainScreen(output, lines)
  })
