/**
 * The load generator: runs in its own process (see `GeneratorPool`), holds
 * the client connections and executes one job at a time for the parent. Every
 * job is bounded in time and count, and every result carries the generator's
 * own CPU use so a saturated generator shows in the figures.
 */
import { Client, type ClientHooks, type Endpoint, type Frame, nowUs, sleep } from "./Client.ts"
import { Histogram } from "./Histogram.ts"
import type {
  Account,
  CloseResult,
  Credential,
  DurableResult,
  FanStepResult,
  GeneratorCpu,
  Job,
  JoinRoomsResult,
  LoginStormResult,
  OpenResult,
  PrepareResult,
  ReconnectResult,
  RoomsPlanResult,
  SetupResult
} from "./Jobs.ts"
import { keyBytes, numberAt, stampOf } from "./Lines.ts"
import { loginFlood } from "./LoginFlood.ts"
import { owedDeliveries, type RoomsPlan, tallyDeliveries } from "./RoomsPlan.ts"

/**
 * Watches this process's event loop: the longest gap between 5 ms ticks,
 * minus the 5 ms. A long stall here (GC, or the machine's other processes)
 * delays receipts and inflates the measured latency: it makes a step suspect.
 */
export const watchStalls = () => {
  let last = nowUs()
  let worst = 0
  const timer = setInterval(() => {
    const now = nowUs()
    worst = Math.max(worst, now - last - 5_000)
    last = now
  }, 5)
  return () => {
    clearInterval(timer)
    return Math.max(0, worst / 1000)
  }
}

/** Runs `task` over `items` with at most `concurrency` in flight. */
export const forEachLimited = async <A>(
  items: ReadonlyArray<A>,
  concurrency: number,
  task: (item: A, index: number) => Promise<void>
): Promise<void> => {
  let next = 0
  const lane = async () => {
    while (next < items.length) {
      const i = next++
      await task(items[i]!, i)
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, lane))
}

const bump = (errors: Record<string, number>, key: string) => {
  errors[key] = (errors[key] ?? 0) + 1
}

const errorKey = (frame: Frame): string => frame.type === "ERROR" ? String(frame.code) : frame.type

const retryAfter = (frame: Frame): number => {
  const ms = Number(frame.retry_after_ms)
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 10), 5_000) : 100
}

/** A message text of exactly `bytes` ASCII characters that starts with its send time and step. */
export const stampedText = (sentUs: number, tag: string | number, bytes: number): string => {
  const head = `${Math.round(sentUs)}:${tag}:`
  return head.length >= bytes ? head : head + "x".repeat(bytes - head.length)
}

const ID_KEY = keyBytes("id")

export class Generator implements ClientHooks {
  readonly clients: Array<Client> = []
  /** The tag of the step being measured, as the bytes `stampOf` compares. */
  private stepTag: Uint8Array = Buffer.alloc(0)
  private delivered = 0
  private acked = 0
  private closedInStep = 0
  private latency = new Histogram()
  /** The warm-up's tag while its deliveries may still arrive, and their latency. */
  private warmTag: Uint8Array | undefined = undefined
  private warmLatency = new Histogram()
  private ackLatency = new Histogram()
  private errors: Record<string, number> = {}
  private durableRunning = false
  private durableTo = ""
  private textBytes = 100
  /** Deliveries of the measured step, by client index. */
  private got = new Uint32Array(0)
  /** The rooms plan; `clients[u]` is user u's connection. */
  private plan: RoomsPlan | undefined = undefined

  // ---- hooks (hot path) ----
  onMessage(client: Client, buf: Buffer, start: number, end: number, atUs: number): void {
    const sentUs = stampOf(buf, start, end, this.stepTag)
    if (Number.isNaN(sentUs)) {
      if (this.warmTag === undefined) return
      const warmUs = stampOf(buf, start, end, this.warmTag)
      if (!Number.isNaN(warmUs)) this.warmLatency.record(atUs - warmUs)
      return
    }
    this.delivered++
    this.got[client.index]!++
    this.latency.record(atUs - sentUs)
  }

  onAck(client: Client, buf: Buffer, start: number, end: number, atUs: number): void {
    this.acked++
    const sentUs = numberAt(buf, start, end, ID_KEY)
    if (Number.isFinite(sentUs)) this.ackLatency.record(atUs - sentUs)
    if (this.durableRunning) this.sendDurable(client)
  }

  onError(client: Client, frame: Frame): void {
    bump(this.errors, errorKey(frame))
    if (this.durableRunning && frame.id !== undefined) this.sendDurable(client)
  }

  onClose(_client: Client): void {
    this.closedInStep++
  }

  private sendDurable(client: Client): void {
    const now = nowUs()
    client.send({
      command: "MSG",
      id: Math.round(now),
      to: this.durableTo,
      text: stampedText(now, "d", this.textBytes)
    })
  }

  private resetCounters(tag: string): void {
    this.stepTag = Buffer.from(tag)
    this.delivered = 0
    this.acked = 0
    this.closedInStep = 0
    this.latency = new Histogram()
    this.ackLatency = new Histogram()
    this.warmTag = undefined
    this.warmLatency = new Histogram()
    this.errors = {}
    this.got = new Uint32Array(this.clients.length)
  }

  // ---- jobs ----
  async run(job: Job): Promise<unknown> {
    const cpu0 = process.cpuUsage()
    const t0 = nowUs()
    const result = await this.dispatch(job)
    const cpu = process.cpuUsage(cpu0)
    return { ...result, cpuMs: (cpu.user + cpu.system) / 1000, wallMs: (nowUs() - t0) / 1000 }
  }

  private dispatch(job: Job): Promise<object> {
    switch (job._tag) {
      case "Setup":
        return this.setup(job)
      case "Open":
        return this.open(job)
      case "Prepare":
        return this.prepare(job)
      case "FanStep":
        return this.fanStep(job)
      case "Durable":
        return this.durable(job)
      case "LoginStorm":
        return this.loginStorm(job)
      case "LoginFlood":
        return loginFlood(job, this)
      case "Reconnect":
        return this.reconnect(job)
      case "RoomsPlan":
        return this.setPlan(job)
      case "JoinRooms":
        return this.joinRooms(job)
      case "CloseAll":
        return this.closeAll()
    }
  }

  /** Registers (optionally) and logs each account in once by password, to collect its token. */
  private async setup(job: Extract<Job, { _tag: "Setup" }>): Promise<Omit<SetupResult, keyof GeneratorCpu>> {
    const errors: Record<string, number> = {}
    const credentials: Array<Credential> = []
    const attempt = async (account: Account, command: Record<string, unknown>, ok: string): Promise<Frame> => {
      for (let tries = 0; tries < 50; tries++) {
        const client = new Client(-1, account.username, "setup", this)
        try {
          await client.open(job.endpoint)
          const reply = command.command === "CONNECT"
            ? await client.login({ password: account.password })
            : await client.request(command)
          if (reply.type === "ERROR" && reply.code === "RATE_LIMITED") {
            bump(errors, "RATE_LIMITED")
            await sleep(retryAfter(reply))
            continue
          }
          if (reply.type !== ok) bump(errors, errorKey(reply))
          return reply
        } catch (e) {
          bump(errors, String((e as Error).message))
          await sleep(100)
        } finally {
          await client.close()
        }
      }
      return { type: "GAVE_UP" }
    }
    const r0 = nowUs()
    if (job.register) {
      await forEachLimited(job.accounts, job.concurrency, async (account) => {
        await attempt(
          account,
          { command: "REGISTER", username: account.username, password: account.password },
          "REGISTERED"
        )
      })
    }
    const r1 = nowUs()
    await forEachLimited(job.accounts, job.concurrency, async (account) => {
      const reply = await attempt(account, { command: "CONNECT" }, "CONNECTED")
      if (reply.type === "CONNECTED") credentials.push({ username: account.username, token: String(reply.token) })
    })
    const r2 = nowUs()
    return { credentials, registerMs: (r1 - r0) / 1000, loginMs: (r2 - r1) / 1000, errors }
  }

  /** Opens `count` token-authenticated connections, the credentials taken round-robin. */
  private async open(job: Extract<Job, { _tag: "Open" }>): Promise<Omit<OpenResult, keyof GeneratorCpu>> {
    const errors: Record<string, number> = {}
    const fresh = Array.from({ length: job.count }, (_, i) => {
      const cred = job.credentials[i % job.credentials.length]!
      const client = new Client(this.clients.length + i, cred.username, job.role, this)
      client.token = cred.token
      client.viaWebSocket = job.webSocket === true
      client.rooms = job.rooms === true
      return client
    })
    let opened = 0
    const startUs = nowUs()
    await forEachLimited(fresh, job.concurrency, async (client) => {
      if (await this.connectOnce(client, job.endpoint, errors)) opened++
    })
    const endUs = nowUs()
    this.clients.push(...fresh)
    return { opened, failed: job.count - opened, startUs, endUs, errors }
  }

  private async connectOnce(client: Client, endpoint: Endpoint, errors: Record<string, number>): Promise<boolean> {
    try {
      await client.open(endpoint)
      const reply = await client.login({ token: client.token! }, client.rooms)
      if (reply.type === "CONNECTED") return true
      bump(errors, errorKey(reply))
      if (reply.type === "ERROR" && reply.code === "RATE_LIMITED") await sleep(retryAfter(reply))
    } catch (e) {
      bump(errors, (e as NodeJS.ErrnoException).code ?? (e as Error).message)
    }
    client.socket?.destroy()
    return false
  }

  /** Reconnects clients the server dropped, then waits until no delivery arrived for `quietMs`. */
  private async prepare(job: Extract<Job, { _tag: "Prepare" }>): Promise<Omit<PrepareResult, keyof GeneratorCpu>> {
    const errors: Record<string, number> = {}
    const dropped = this.clients.filter((c) => !c.ready)
    let healed = 0
    await forEachLimited(dropped, 64, async (client) => {
      if (await this.connectOnce(client, job.endpoint, errors)) healed++
    })
    this.resetCounters("quiet")
    const deadline = nowUs() + job.maxMs * 1000
    // deliveries of old steps are not counted, but the socket traffic is what we wait out
    let bytes = this.socketBytes()
    let quietSince = nowUs()
    while (nowUs() < deadline) {
      await sleep(Math.min(50, job.quietMs))
      const now = this.socketBytes()
      if (now !== bytes) {
        bytes = now
        quietSince = nowUs()
      } else if (nowUs() - quietSince >= job.quietMs * 1000) break
    }
    return { live: this.clients.filter((c) => c.ready).length, healed, failed: dropped.length - healed }
  }

  private socketBytes(): number {
    let n = 0
    for (const c of this.clients) n += c.socket?.bytesRead ?? 0
    return n
  }

  /**
   * One fan-out step: the senders offer `rate` messages/s in total (first for
   * the warm-up, whose messages carry another tag and are not counted), then
   * the deliveries drain. In rooms mode each message goes to a random room of
   * the plan from a random member's connection. What each connection is owed
   * is worked out from what was sent, and compared with what it got.
   */
  private async fanStep(job: Extract<Job, { _tag: "FanStep" }>): Promise<Omit<FanStepResult, keyof GeneratorCpu>> {
    const plan = job.mode === "rooms" ? this.plan : undefined
    if (job.mode === "rooms" && (plan === undefined || plan.users !== this.clients.length)) {
      throw new Error(`rooms step: ${this.clients.length} connections for a plan of ${plan?.users ?? "no"} users`)
    }
    const senders = plan === undefined
      ? this.clients.filter((c) => (job.mode === "anyone" || c.role === "sender") && c.ready)
      : []
    const liveAtStart = this.clients.map((c) => c.ready)
    const live = liveAtStart.filter((ready) => ready).length
    const sentBy = new Uint32Array(this.clients.length)
    const sentToRoom = new Uint32Array(plan?.names.length ?? 0)
    const tag = `s${job.step}`
    const warmTag = `w${job.step}`
    this.resetCounters(tag)
    const warmupUs = (job.warmupMs ?? 0) * 1000
    if (warmupUs > 0) this.warmTag = Buffer.from(warmTag)
    let stalls = watchStalls()
    let sent = 0
    let warmupSent = 0
    let offered = 0
    let measuring = warmupUs === 0
    const t0 = nowUs()
    let windowStart = t0
    const endUs = warmupUs + job.durationMs * 1000
    const canSend = plan !== undefined || senders.length > 0
    await new Promise<void>((resolve) => {
      const tick = () => {
        const elapsed = Math.min(nowUs() - t0, endUs)
        if (!measuring && elapsed >= warmupUs) {
          measuring = true
          windowStart = nowUs()
          stalls()
          stalls = watchStalls()
        }
        const due = Math.floor((job.rate * elapsed) / 1e6) - offered
        for (let i = 0; i < due && canSend; i++) {
          offered++
          let sender: Client
          let room = -1
          if (plan === undefined) sender = senders[(offered - 1) % senders.length]!
          else {
            room = Math.floor(Math.random() * plan.names.length)
            const members = plan.members[room]!
            sender = this.clients[members[Math.floor(Math.random() * members.length)]!]!
          }
          if (!sender.ready) continue
          const now = nowUs()
          const text = stampedText(now, measuring ? tag : warmTag, job.textBytes)
          if (plan === undefined) sender.send({ command: "MSG", id: Math.round(now), text })
          else sender.send({ command: "MSG", id: Math.round(now), room: plan.names[room]!, text })
          if (measuring) {
            sent++
            sentBy[sender.index]!++
            if (room >= 0) sentToRoom[room]!++
          } else warmupSent++
        }
        if (elapsed >= endUs) {
          clearInterval(timer)
          resolve()
        }
      }
      const timer = setInterval(tick, 1)
    })
    const sendWindowMs = (nowUs() - windowStart) / 1000
    const owed = plan === undefined
      ? liveAtStart.map((ready, c) => (ready ? sent - sentBy[c]! : 0))
      : owedDeliveries(plan, sentToRoom, sentBy, (u) => liveAtStart[u]!)
    const expected = owed.reduce((a, b) => a + b, 0)
    const deadline = nowUs() + job.drainMs * 1000
    while ((this.delivered < expected || this.acked < sent + warmupSent) && nowUs() < deadline) await sleep(5)
    const tally = tallyDeliveries(owed, this.got)
    return {
      stallMs: stalls(),
      step: job.step,
      rate: job.rate,
      live,
      sent,
      expected,
      delivered: this.delivered,
      missing: tally.missing,
      extra: tally.extra,
      wrongConnections: tally.wrongConnections,
      // every ACK, the warm-up's too: one missing anywhere counts as lost
      acked: this.acked - warmupSent,
      closed: this.closedInStep,
      sendWindowMs,
      latency: this.latency.toData(),
      ackLatency: this.ackLatency.toData(),
      errors: this.errors,
      warmupSent,
      warmupLatency: this.warmLatency.toData()
    }
  }

  /** Keeps the rooms plan for `JoinRooms` and rooms steps. */
  private setPlan(job: Extract<Job, { _tag: "RoomsPlan" }>): Promise<Omit<RoomsPlanResult, keyof GeneratorCpu>> {
    this.plan = {
      users: job.roomsOf.length,
      names: job.names,
      members: job.members,
      roomsOf: job.roomsOf,
      creators: job.creators
    }
    return Promise.resolve({ users: this.plan.users })
  }

  /** The creators of a range of rooms create them, then a range of users join their other rooms. */
  private async joinRooms(
    job: Extract<Job, { _tag: "JoinRooms" }>
  ): Promise<Omit<JoinRoomsResult, keyof GeneratorCpu>> {
    const plan = this.plan
    if (plan === undefined || plan.users !== this.clients.length) {
      throw new Error(`JoinRooms: ${this.clients.length} connections for a plan of ${plan?.users ?? "no"} users`)
    }
    const errors: Record<string, number> = {}
    let created = 0
    let joined = 0
    const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i)
    await forEachLimited(range(job.roomFrom, job.roomTo), job.concurrency, async (r) => {
      const client = this.clients[plan.creators[r]!]!
      const reply = await client.request({ command: "ROOM_CREATE", room: plan.names[r], visibility: "public" })
      if (reply.type === "ROOM") created++
      else bump(errors, `ROOM_CREATE ${errorKey(reply)}`)
    })
    await forEachLimited(range(job.userFrom, job.userTo), job.concurrency, async (u) => {
      const client = this.clients[u]!
      for (const r of plan.roomsOf[u]!) {
        if (plan.creators[r] === u) continue
        const reply = await client.request({ command: "JOIN", room: plan.names[r] })
        if (reply.type === "ROOM") joined++
        else bump(errors, `JOIN ${errorKey(reply)}`)
      }
    })
    return { created, joined, errors }
  }

  /** Closed-loop durable sends: each sender keeps `window` DMs to `to` in flight. */
  private async durable(job: Extract<Job, { _tag: "Durable" }>): Promise<Omit<DurableResult, keyof GeneratorCpu>> {
    const senders = this.clients.filter((c) => c.role === "sender" && c.ready)
    this.resetCounters("durable")
    this.durableTo = job.to
    this.textBytes = job.textBytes
    this.durableRunning = true
    const stalls = watchStalls()
    const t0 = nowUs()
    for (const s of senders) for (let w = 0; w < job.window; w++) this.sendDurable(s)
    await sleep(job.durationMs)
    this.durableRunning = false
    const windowMs = (nowUs() - t0) / 1000
    const acked = this.acked
    const ackLatency = this.ackLatency.toData()
    // let the in-flight ones land before anything else runs
    const outstanding = senders.length * job.window
    const deadline = nowUs() + 5_000_000
    while (this.acked < acked + outstanding && nowUs() < deadline) await sleep(5)
    return { senders: senders.length, acked, windowMs, ackLatency, errors: this.errors, stallMs: stalls() }
  }

  /** Password logins as fast as `concurrency` clients can do them, each on a fresh connection. */
  private async loginStorm(
    job: Extract<Job, { _tag: "LoginStorm" }>
  ): Promise<Omit<LoginStormResult, keyof GeneratorCpu>> {
    const errors: Record<string, number> = {}
    const latency = new Histogram()
    let logins = 0
    let failed = 0
    let rateLimited = 0
    let k = 0
    const deadline = nowUs() + job.durationMs * 1000
    const lane = async () => {
      while (nowUs() < deadline) {
        const account = job.accounts[k++ % job.accounts.length]!
        const client = new Client(-1, account.username, "login", this)
        const t = nowUs()
        try {
          await client.open(job.endpoint)
          const reply = await client.login({ password: account.password })
          if (reply.type === "CONNECTED") {
            logins++
            latency.record(nowUs() - t)
          } else if (reply.type === "ERROR" && reply.code === "RATE_LIMITED") {
            rateLimited++
            await sleep(retryAfter(reply))
          } else {
            failed++
            bump(errors, errorKey(reply))
          }
        } catch (e) {
          failed++
          bump(errors, (e as NodeJS.ErrnoException).code ?? (e as Error).message)
          await sleep(20)
        } finally {
          void client.close()
        }
      }
    }
    await Promise.all(Array.from({ length: job.concurrency }, lane))
    return { logins, failed, rateLimited, latency: latency.toData(), errors }
  }

  /**
   * Waits for the server to drop every client (it is being restarted), then
   * brings each back with its token, retrying with jittered backoff until the
   * new server answers or the deadline passes.
   */
  private async reconnect(
    job: Extract<Job, { _tag: "Reconnect" }>
  ): Promise<Omit<ReconnectResult, keyof GeneratorCpu>> {
    const errors: Record<string, number> = {}
    const startUs = nowUs()
    const deadline = startUs + job.deadlineMs * 1000
    let back = 0
    let attempts = 0
    let lastBackUs = 0
    let inFlight = 0
    const bringBack = async (client: Client) => {
      while (client.socket !== undefined && nowUs() < deadline) await sleep(20)
      let delay = 50
      while (nowUs() < deadline) {
        while (inFlight >= job.concurrency) await sleep(5)
        inFlight++
        attempts++
        const ok = await this.connectOnce(client, job.endpoint, errors)
        inFlight--
        if (ok) {
          back++
          lastBackUs = nowUs()
          return
        }
        await sleep(delay * (0.5 + Math.random()))
        delay = Math.min(delay * 2, 1000)
      }
    }
    await Promise.all(this.clients.map(bringBack))
    return { total: this.clients.length, back, attempts, startUs, lastBackUs, errors }
  }

  private async closeAll(): Promise<Omit<CloseResult, keyof GeneratorCpu>> {
    const all = this.clients.splice(0)
    await Promise.all(all.map((c) => c.close()))
    return { closed: all.length }
  }
}

/** The child-process side: jobs arrive over IPC, results go back the same way. */
export const serveOverIpc = (): Promise<void> =>
  new Promise<void>((resolve) => {
    const generator = new Generator()
    let queue = Promise.resolve()
    process.on("message", (msg: { readonly id: number; readonly job: Job }) => {
      queue = queue.then(async () => {
        try {
          const result = await generator.run(msg.job)
          process.send!({ id: msg.id, ok: true, result })
        } catch (e) {
          process.send!({ id: msg.id, ok: false, error: String((e as Error)?.stack ?? e) })
        }
      })
    })
    process.on("disconnect", () => {
      for (const c of generator.clients) c.socket?.destroy()
      resolve()
      // sockets of jobs still running would keep the process alive
      setTimeout(() => process.exit(0), 100).unref()
    })
    process.send!({ ready: true })
  })
