/**
 * A full garbage collection in another Node process, through its inspector
 * (the process was started with `--inspect=127.0.0.1:0`, so the inspector
 * listens on loopback only, on a port of its own that it prints as
 * `Debugger listening on ws://…`). The soak asks for one before each reading:
 * without it, "heap in use" counts garbage that V8 has simply not collected
 * yet, and two readings minutes apart differ by whatever the last major GC
 * happened to leave (61 → 119 MiB in a 3-minute run whose heap, collected,
 * was 52.6 → 52.0 MiB).
 */
import WebSocket from "ws"

const DEBUGGER_LINE = /Debugger listening on (ws:\/\/\S+)/

/** The inspector's WebSocket URL, from the lines the process printed. */
export const inspectorUrl = (lines: ReadonlyArray<string>): string | undefined => {
  for (const line of lines) {
    const m = DEBUGGER_LINE.exec(line)
    if (m !== null) return m[1]!
  }
  return undefined
}

/** Runs `HeapProfiler.collectGarbage` in the process behind `url`; fails after `timeoutMs`. */
export const collectGarbage = (url: string, timeoutMs = 30_000): Promise<void> =>
  new Promise<void>((resolve, reject) => {
    const socket = new WebSocket(url)
    const timer = setTimeout(() => {
      socket.terminate()
      reject(new Error(`no answer from the inspector at ${url} within ${timeoutMs} ms`))
    }, timeoutMs)
    const finish = (error?: Error) => {
      clearTimeout(timer)
      socket.close()
      if (error === undefined) resolve()
      else reject(error)
    }
    socket.on("open", () => socket.send(JSON.stringify({ id: 1, method: "HeapProfiler.collectGarbage" })))
    socket.on("message", (data) => {
      const reply = JSON.parse(String(data)) as { id?: number; error?: { message: string } }
      if (reply.id !== 1) return
      finish(reply.error === undefined ? undefined : new Error(`the inspector refused: ${reply.error.message}`))
    })
    socket.on("error", (e) => finish(e))
  })
