import { assert, describe, it } from "@effect/vitest"
import { FastCheck } from "effect"
import { writeFileSync } from "node:fs"
import {
  cpuSeconds,
  parseStat,
  parseStatusField,
  parseWriteCalls,
  readCpuSeconds,
  readRss,
  readSystemCpuSeconds,
  readWriteCalls
} from "../src/ProcStats.ts"

// a real line, pid 1234 running node
const STAT =
  "1234 (node) S 1 1234 1234 0 -1 4194560 27383 0 3 0 1523 287 0 0 20 0 11 0 3021 1207865344 34251 18446744073709551615 1 1 0 0 0 0 0 4096 17922 0 0 0 17 1 0 0 0 0 0"

const STATUS = `Name:\tnode
Umask:\t0022
State:\tS (sleeping)
VmPeak:\t 1303840 kB
VmSize:\t 1179556 kB
VmHWM:\t  151236 kB
VmRSS:\t  137004 kB
RssAnon:\t   92008 kB
Threads:\t11
`

describe("parseStat", () => {
  it("reads utime and stime (fields 14 and 15)", () => {
    assert.deepStrictEqual(parseStat(STAT), { utimeTicks: 1523, stimeTicks: 287 })
    assert.strictEqual(cpuSeconds(parseStat(STAT)), 18.1)
  })

  it.prop(
    "is not fooled by spaces and parentheses in the command name",
    [FastCheck.string({ maxLength: 15 }).filter((s) => !s.includes("\n")), FastCheck.nat(), FastCheck.nat()],
    ([name, u, s]) => {
      const line = `77 (${name}) R 1 77 77 0 -1 4194560 1 0 0 0 ${u} ${s} 0 0 20 0 1 0 5 100 10 1`
      assert.deepStrictEqual(parseStat(line), { utimeTicks: u, stimeTicks: s })
    }
  )

  it("rejects what is not a stat line", () => {
    assert.throws(() => parseStat("nonsense"))
  })
})

describe("parseStatusField", () => {
  it("reads VmRSS and VmHWM in bytes", () => {
    assert.strictEqual(parseStatusField(STATUS, "VmRSS"), 137004 * 1024)
    assert.strictEqual(parseStatusField(STATUS, "VmHWM"), 151236 * 1024)
  })

  it("does not take RssAnon for VmRSS", () => {
    assert.throws(() => parseStatusField("RssAnon:\t 5 kB\n", "VmRSS"))
  })
})

// a real /proc/<pid>/io
const IO = `rchar: 6976
wchar: 1204
syscr: 10
syscw: 37
read_bytes: 0
write_bytes: 0
cancelled_write_bytes: 0
`

describe("parseWriteCalls", () => {
  it("reads syscw, not syscr", () => {
    assert.strictEqual(parseWriteCalls(IO), 37)
  })

  it("rejects text without syscw", () => {
    assert.throws(() => parseWriteCalls("syscr: 10\n"))
  })
})

describe("reading /proc", () => {
  it("works on this very process", () => {
    assert.isTrue(readRss(process.pid) > 1024 * 1024)
    assert.isTrue(readCpuSeconds(process.pid) >= 0)
    assert.isTrue(readSystemCpuSeconds(process.pid) <= readCpuSeconds(process.pid))
  })

  it("counts this process's write system calls", () => {
    const before = readWriteCalls(process.pid)
    writeFileSync("/dev/null", "x")
    assert.isTrue(readWriteCalls(process.pid) > before)
  })
})
