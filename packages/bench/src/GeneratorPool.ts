/**
 * The parent's side of the load generator: each generator is a child process
 * (its CPU apart from ours and the server's) that takes jobs over IPC.
 */
import { Data, Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import type {
  CloseResult,
  DurableResult,
  FanStepResult,
  Job,
  JoinRoomsResult,
  LoginFloodResult,
  LoginStormResult,
  OpenResult,
  PrepareResult,
  ReconnectResult,
  RoomsPlanResult,
  SetupResult
} from "./Jobs.ts"
import { benchBin, repoRoot, withFileLimit } from "./Paths.ts"

export class GeneratorError extends Data.TaggedError("GeneratorError")<{ readonly reason: string }> {}

export interface JobResults {
  readonly Setup: SetupResult
  readonly Open: OpenResult
  readonly Prepare: PrepareResult
  readonly FanStep: FanStepResult
  readonly Durable: DurableResult
  readonly LoginStorm: LoginStormResult
  readonly LoginFlood: LoginFloodResult
  readonly Reconnect: ReconnectResult
  readonly RoomsPlan: RoomsPlanResult
  readonly JoinRooms: JoinRoomsResult
  readonly CloseAll: CloseResult
}

interface Reply {
  readonly id?: number
  readonly ok?: boolean
  readonly result?: unknown
  readonly error?: string
  readonly ready?: boolean
}

export class GeneratorProcess {
  private nextId = 1
  private readonly pending = new Map<number, { resolve: (r: unknown) => void; reject: (e: Error) => void }>()

  private constructor(private readonly child: ChildProcess) {
    child.on("message", (reply: Reply) => {
      if (reply.id === undefined) return
      const waiter = this.pending.get(reply.id)
      this.pending.delete(reply.id)
      if (reply.ok) waiter?.resolve(reply.result)
      else waiter?.reject(new Error(reply.error ?? "generator failed"))
    })
    child.on("exit", (code, signal) => {
      for (const [, w] of this.pending) w.reject(new Error(`generator exited (${code ?? signal})`))
      this.pending.clear()
    })
  }

  get pid(): number | undefined {
    return this.child.pid
  }

  static spawn(): Promise<GeneratorProcess> {
    const [cmd, args] = withFileLimit([process.execPath, "--import", "tsx", benchBin, "generator"])
    const child = spawn(cmd, args, { cwd: repoRoot, stdio: ["ignore", "ignore", "inherit", "ipc"] })
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("generator did not start in 60 s")), 60_000)
      child.once("message", (m: Reply) => {
        clearTimeout(timer)
        if (m.ready) resolve(new GeneratorProcess(child))
        else reject(new Error("generator sent no ready message"))
      })
      child.once("exit", (code) => {
        clearTimeout(timer)
        reject(new Error(`generator exited (${code}) before it was ready`))
      })
    })
  }

  call<J extends Job>(job: J): Promise<JobResults[J["_tag"]]> {
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (r: unknown) => void, reject })
      this.child.send({ id, job })
    })
  }

  stop(): Promise<void> {
    const child = this.child
    if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
    return new Promise((resolve) => {
      const kill = setTimeout(() => child.kill("SIGKILL"), 5_000)
      child.once("exit", () => {
        clearTimeout(kill)
        resolve()
      })
      // the generator closes its sockets and exits when its IPC channel goes away
      child.disconnect()
    })
  }
}

/** A generator process for the scope's lifetime. */
export const acquireGenerator = Effect.acquireRelease(
  Effect.tryPromise({
    try: () => GeneratorProcess.spawn(),
    catch: (e) => new GeneratorError({ reason: String((e as Error).message ?? e) })
  }),
  (g) => Effect.promise(() => g.stop())
)

/** Runs one job on a generator. */
export const runJob = <J extends Job>(generator: GeneratorProcess, job: J) =>
  Effect.tryPromise({
    try: () => generator.call(job),
    catch: (e) => new GeneratorError({ reason: `${job._tag}: ${String((e as Error).message ?? e)}` })
  })
