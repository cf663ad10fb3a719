/**
 * Server-side figures from /proc: CPU time (utime + stime of every thread, in
 * clock ticks) from /proc/<pid>/stat, resident memory from /proc/<pid>/status
 * and write system calls from /proc/<pid>/io. Parsing is pure; reading is
 * synchronous and cheap.
 */
import { readFileSync } from "node:fs"

/** Clock ticks per second (`getconf CLK_TCK`); 100 on every Linux this runs on. */
export const CLOCK_TICKS = 100

export interface CpuTimes {
  readonly utimeTicks: number
  readonly stimeTicks: number
}

/**
 * Parses /proc/<pid>/stat. The command name (field 2) is in parentheses and may
 * hold spaces or parentheses itself, so fields are counted after the last `)`.
 */
export const parseStat = (text: string): CpuTimes => {
  const close = text.lastIndexOf(")")
  if (close < 0) throw new Error("not a /proc/<pid>/stat line")
  // after ") " come field 3 (state) onwards; utime and stime are fields 14 and 15
  const rest = text.slice(close + 2).trim().split(/\s+/)
  const utime = Number(rest[14 - 3])
  const stime = Number(rest[15 - 3])
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error("no utime/stime in /proc/<pid>/stat")
  return { utimeTicks: utime, stimeTicks: stime }
}

/** Total CPU seconds of a CpuTimes reading. */
export const cpuSeconds = (t: CpuTimes, ticks: number = CLOCK_TICKS): number => (t.utimeTicks + t.stimeTicks) / ticks

/** Parses a `Key:   value kB` field of /proc/<pid>/status into bytes (VmRSS, VmHWM, ...). */
export const parseStatusField = (text: string, key: string): number => {
  const m = new RegExp(`^${key}:\\s+(\\d+)\\s*kB`, "m").exec(text)
  if (m === null) throw new Error(`no ${key} in /proc/<pid>/status`)
  return Number(m[1]) * 1024
}

/** CPU seconds used so far by a process (all its threads). */
export const readCpuSeconds = (pid: number): number => cpuSeconds(parseStat(readFileSync(`/proc/${pid}/stat`, "utf8")))

/** CPU seconds a process (all its threads) has spent in the kernel so far: its system calls. */
export const readSystemCpuSeconds = (pid: number): number =>
  parseStat(readFileSync(`/proc/${pid}/stat`, "utf8")).stimeTicks / CLOCK_TICKS

/** Resident set size of a process, bytes. */
export const readRss = (pid: number): number => parseStatusField(readFileSync(`/proc/${pid}/status`, "utf8"), "VmRSS")

/** Parses /proc/<pid>/io's `syscw`: write system calls (write, writev, sendmsg, ...) made so far. */
export const parseWriteCalls = (text: string): number => {
  const m = /^syscw:\s+(\d+)/m.exec(text)
  if (m === null) throw new Error("no syscw in /proc/<pid>/io")
  return Number(m[1])
}

/** Write system calls made so far by a process (all its threads). */
export const readWriteCalls = (pid: number): number => parseWriteCalls(readFileSync(`/proc/${pid}/io`, "utf8"))
