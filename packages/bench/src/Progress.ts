/** The progress line on stderr: rewritten in place on a terminal, one line per update elsewhere. */
export interface Progress {
  readonly update: (text: string) => void
  readonly done: () => void
}

export const makeProgress = (quiet = false): Progress => {
  const tty = process.stderr.isTTY === true
  const start = Date.now()
  let shown = false
  return {
    update: (text) => {
      if (quiet) return
      const secs = ((Date.now() - start) / 1000).toFixed(0).padStart(4)
      const line = `[bench ${secs}s] ${text}`
      if (tty) {
        const width = process.stderr.columns ?? 120
        process.stderr.write(`\r\x1b[K${line.slice(0, width - 1)}`)
        shown = true
      } else process.stderr.write(line + "\n")
    },
    done: () => {
      if (tty && shown) process.stderr.write("\r\x1b[K")
      shown = false
    }
  }
}
