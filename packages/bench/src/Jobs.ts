/**
 * The contract between the bench and its generator processes: the jobs sent
 * over IPC and what each one reports back (plain data, JSON-safe).
 */
import type { Endpoint } from "./Client.ts"
import type { HistogramData } from "./Histogram.ts"

export interface Account {
  readonly username: string
  readonly password: string
}

export interface Credential {
  readonly username: string
  readonly token: string
}

export type Job =
  | {
    readonly _tag: "Setup"
    readonly endpoint: Endpoint
    readonly accounts: ReadonlyArray<Account>
    readonly register: boolean
    readonly concurrency: number
  }
  | {
    readonly _tag: "Open"
    readonly endpoint: Endpoint
    readonly credentials: ReadonlyArray<Credential>
    readonly count: number
    readonly role: string
    readonly concurrency: number
    /** Connect by WebSocket to the endpoint's web port (receivers of `--transport ws`). */
    readonly webSocket?: boolean
    /** Log in with `"rooms": true` (protocol v1.2): the connections receive their rooms' traffic. */
    readonly rooms?: boolean
  }
  | { readonly _tag: "Prepare"; readonly endpoint: Endpoint; readonly quietMs: number; readonly maxMs: number }
  | {
    readonly _tag: "FanStep"
    readonly step: number
    readonly rate: number
    /**
     * Offered at the same rate before the measured window and not counted:
     * the step measures the steady state, not the jump from idle.
     */
    readonly warmupMs?: number
    readonly durationMs: number
    readonly drainMs: number
    readonly textBytes: number
    /**
     * broadcast (the default): the senders' MSGs go to `general`, owed to every
     * other live connection. anyone: the same, sent by every live connection in
     * turn instead of the senders alone. rooms: each MSG goes to a random room of the plan
     * (`RoomsPlan` job), from a random member's connection, owed to the other
     * members' connections.
     */
    readonly mode?: "broadcast" | "anyone" | "rooms"
  }
  | {
    /** Gives the generator the rooms plan; its connections must be the plan's users, in order (see `Open`). */
    readonly _tag: "RoomsPlan"
    readonly names: ReadonlyArray<string>
    readonly members: ReadonlyArray<ReadonlyArray<number>>
    readonly roomsOf: ReadonlyArray<ReadonlyArray<number>>
    readonly creators: ReadonlyArray<number>
  }
  | {
    /**
     * On the plan's connections: the creators of rooms [roomFrom, roomTo)
     * create them (public), then users [userFrom, userTo) join their other rooms.
     */
    readonly _tag: "JoinRooms"
    readonly roomFrom: number
    readonly roomTo: number
    readonly userFrom: number
    readonly userTo: number
    readonly concurrency: number
  }
  | {
    readonly _tag: "Durable"
    readonly durationMs: number
    readonly window: number
    readonly to: string
    readonly textBytes: number
  }
  | {
    readonly _tag: "LoginStorm"
    readonly endpoint: Endpoint
    readonly accounts: ReadonlyArray<Account>
    readonly concurrency: number
    readonly durationMs: number
  }
  | {
    readonly _tag: "LoginFlood"
    readonly endpoint: Endpoint
    readonly accounts: ReadonlyArray<Account>
    /** Source addresses (127.0.0.x), the flood's connections spread evenly over them. */
    readonly addresses: ReadonlyArray<string>
    readonly concurrency: number
    readonly durationMs: number
  }
  | {
    readonly _tag: "Reconnect"
    readonly endpoint: Endpoint
    readonly concurrency: number
    readonly deadlineMs: number
  }
  | { readonly _tag: "CloseAll" }

/** CPU the generator itself used during a job. */
export interface GeneratorCpu {
  readonly cpuMs: number
  readonly wallMs: number
}

export interface SetupResult extends GeneratorCpu {
  readonly credentials: ReadonlyArray<Credential>
  readonly registerMs: number
  readonly loginMs: number
  readonly errors: Record<string, number>
}

export interface OpenResult extends GeneratorCpu {
  readonly opened: number
  readonly failed: number
  readonly startUs: number
  readonly endUs: number
  readonly errors: Record<string, number>
}

export interface PrepareResult extends GeneratorCpu {
  readonly live: number
  readonly healed: number
  readonly failed: number
}

export interface FanStepResult extends GeneratorCpu {
  /** The generator's longest event-loop stall during the step, ms. */
  readonly stallMs: number
  readonly step: number
  readonly rate: number
  readonly live: number
  readonly sent: number
  readonly expected: number
  readonly delivered: number
  readonly acked: number
  readonly closed: number
  readonly sendWindowMs: number
  readonly latency: HistogramData
  readonly ackLatency: HistogramData
  readonly errors: Record<string, number>
  /** Messages of the warm-up (not in `sent`) and their deliveries' latency. */
  readonly warmupSent: number
  readonly warmupLatency: HistogramData
  /** Owed deliveries that never arrived, counted connection by connection (included in `expected − delivered`). */
  readonly missing: number
  /** Deliveries no connection was owed (to a connection outside the room, or twice). */
  readonly extra: number
  /** Connections that did not get exactly what they were owed. */
  readonly wrongConnections: number
}

export interface RoomsPlanResult extends GeneratorCpu {
  readonly users: number
}

export interface JoinRoomsResult extends GeneratorCpu {
  readonly created: number
  readonly joined: number
  readonly errors: Record<string, number>
}

export interface DurableResult extends GeneratorCpu {
  readonly stallMs: number
  readonly senders: number
  readonly acked: number
  readonly windowMs: number
  readonly ackLatency: HistogramData
  readonly errors: Record<string, number>
}

export interface LoginStormResult extends GeneratorCpu {
  readonly logins: number
  readonly failed: number
  readonly rateLimited: number
  readonly latency: HistogramData
  readonly errors: Record<string, number>
}

export interface LoginFloodResult extends GeneratorCpu {
  /** CONNECT requests answered, by reply (CONNECTED, AUTH_FAILED, RATE_LIMITED, ...). */
  readonly replies: Record<string, number>
  /** Connections that failed before a reply (refused with BYE too_many_connections, timeouts). */
  readonly errors: Record<string, number>
}

export interface ReconnectResult extends GeneratorCpu {
  readonly total: number
  readonly back: number
  readonly attempts: number
  readonly startUs: number
  /** When the last client was authenticated again (monotonic µs, comparable across processes). */
  readonly lastBackUs: number
  readonly errors: Record<string, number>
}

export interface CloseResult extends GeneratorCpu {
  readonly closed: number
}
