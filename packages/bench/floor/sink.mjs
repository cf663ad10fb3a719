// The receiving side of floor/server.mjs: R connections read into one shared
// buffer (as the bench's generator reads), every line's latency from its stamp
// to the moment its read returned, leaving out the first WARMUP seconds of
// sends (as the bench's latency run does). Prints p50 / p99 / p99.9 once the
// server closes them all.
import * as net from "node:net"

const [R = 1000, WARMUP = 2, PORT = 7999] = process.argv.slice(2).map(Number)
const nowUs = () => {
  const t = process.hrtime()
  return t[0] * 1e6 + t[1] / 1e3
}
const latencies = []
const shared = Buffer.alloc(1 << 18)
const cpu0 = process.cpuUsage()
const wall0 = nowUs()
let closed = 0
let firstStamp = Infinity
for (let i = 0; i < R; i++) {
  let carry = ""
  const socket = net.connect({
    port: PORT,
    host: "127.0.0.1",
    onread: {
      buffer: shared,
      callback: (n, buf) => {
        const at = nowUs()
        const text = carry + buf.latin1Slice(0, n)
        let from = 0
        let nl
        while ((nl = text.indexOf("\n", from)) >= 0) {
          const stamp = text.indexOf("\"text\":\"", from) + 8
          const sent = Number(text.slice(stamp, text.indexOf(":", stamp)))
          if (sent < firstStamp) firstStamp = sent
          if (sent >= firstStamp + WARMUP * 1e6) latencies.push(at - sent)
          from = nl + 1
        }
        carry = text.slice(from)
      }
    }
  })
  socket.on("error", () => {})
  socket.on("close", () => {
    if (++closed === R) report()
  })
}

function report() {
  const cpu = process.cpuUsage(cpu0)
  latencies.sort((a, b) => a - b)
  const ms = (q) => (latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))] / 1000).toFixed(2)
  console.log(
    `floor sink: ${latencies.length} deliveries after ${WARMUP} s of warm-up, latency p50 ${ms(0.5)} ms, p99 ${
      ms(0.99)
    } ms, p99.9 ${ms(0.999)} ms; ` +
      `CPU ${((cpu.user + cpu.system) / (nowUs() - wall0)).toFixed(2)} of a core`
  )
  process.exit(0)
}
