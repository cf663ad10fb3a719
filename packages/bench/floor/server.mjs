// The floor of a fan-out on this machine: what any Node server pays to get a
// line to R loopback sockets, with nothing else to do. It accepts R
// connections, then for SECONDS offers RATE messages a second: each turn of
// the event loop it writes everything due as one buffer to every socket (as
// Parley's outbox does), stamped with the send time as the bench stamps it.
// No parsing, no storage, no protocol. Run sink.mjs against it (see
// docs/benchmarks.md, "latency at R=1000").
//
//   node packages/bench/floor/server.mjs 1000 1040 12 & node packages/bench/floor/sink.mjs 1000 2
//   (R, messages/s, seconds)                            (R, seconds of warm-up not counted)
import * as net from "node:net"

const [R = 1000, RATE = 1000, SECONDS = 10, PORT = 7999] = process.argv.slice(2).map(Number)
const nowUs = () => {
  const t = process.hrtime()
  return t[0] * 1e6 + t[1] / 1e3
}
const sockets = []
const server = net.createServer((socket) => {
  socket.setNoDelay(true)
  socket.on("error", () => {})
  sockets.push(socket)
  if (sockets.length === R) setTimeout(run, 500)
})
server.listen(PORT, "127.0.0.1", () => console.error(`floor server: waiting for ${R} connections on ${PORT}`))

function run() {
  const t0 = nowUs()
  const cpu0 = process.cpuUsage()
  const loops = []
  let sent = 0
  const tick = () => {
    const t = nowUs()
    const due = Math.floor(((t - t0) / 1e6) * RATE) - sent
    if (due > 0) {
      let chunk = ""
      for (let i = 0; i < due; i++) chunk += `{"type":"MESSAGE","text":"${Math.round(nowUs())}:f:${"x".repeat(90)}"}\n`
      sent += due
      const bytes = Buffer.from(chunk)
      const l0 = nowUs()
      for (const socket of sockets) socket.write(bytes)
      loops.push(nowUs() - l0)
    }
    if (t - t0 < SECONDS * 1e6) setTimeout(tick, 0)
    else {
      const cpu = process.cpuUsage(cpu0)
      loops.sort((a, b) => a - b)
      const ms = (q) => (loops[Math.min(loops.length - 1, Math.floor(loops.length * q))] / 1000).toFixed(2)
      console.log(
        `floor server: ${sent} messages to ${R} sockets in ${loops.length} write loops; one loop p50 ${
          ms(0.5)
        } ms, p99 ${ms(0.99)} ms; ` +
          `CPU ${((cpu.user + cpu.system) / 1e6 / SECONDS).toFixed(2)} of a core`
      )
      for (const socket of sockets) socket.destroy()
      server.close()
    }
  }
  tick()
}
