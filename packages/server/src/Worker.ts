/**
 * When a connection's worker fiber runs. A worker is started when frames
 * arrive (or the connection ends) and none is running; once it has handled
 * everything it lingers briefly for more, then ends, so an idle connection
 * parks no fiber (a parked fiber costs ~10 KiB; an idle connection must cost
 * a few). This is the only place that decides it: the connection asks
 * (`wake`, `holdsFrames`), the server's worker loop reports (`linger`, `stopped`).
 */
import { Effect } from "effect"

/**
 * How long a worker waits for more frames before it ends. A client that
 * keeps sending (the next MSG right after its ACK) keeps its fiber instead
 * of forking one per frame; an idle connection still parks none.
 */
export const LINGER_MS = 50

export class WorkerSchedule {
  /** A worker fiber is handling this connection's frames (or lingering for more). */
  private running = false
  /** Set while the worker lingers: hands it the frames that arrived. */
  private resume: (() => void) | undefined = undefined
  /** The first worker has run ("connection opened" is logged by it). */
  private started = false

  /**
   * Frames arrived or the connection ended: wakes a lingering worker, or
   * returns true when the caller must start one (it is then counted as running).
   */
  wake(): boolean {
    if (this.resume !== undefined) {
      this.resume()
      return false
    }
    if (this.running) return false
    this.running = true
    return true
  }

  /** A worker is running (or lingering). */
  get active(): boolean {
    return this.running
  }

  /** A running worker holds frames not yet handled: new ones must queue behind them, not take the fast path. */
  get holdsFrames(): boolean {
    return this.running && this.resume === undefined
  }

  /** True for the connection's first worker only. */
  firstRun(): boolean {
    if (this.started) return false
    this.started = true
    return true
  }

  /** The worker ended: the next frame starts a new one. */
  stopped(): void {
    this.running = false
  }

  /** Waits for more frames: true when they came, false when the worker should end (it is then stopped). */
  linger(): Effect.Effect<boolean> {
    return Effect.async<boolean>((resume) => {
      const timer = setTimeout(() => {
        this.resume = undefined
        // from here a new frame starts a new worker
        this.running = false
        resume(Effect.succeed(false))
      }, LINGER_MS)
      this.resume = () => {
        clearTimeout(timer)
        this.resume = undefined
        resume(Effect.succeed(true))
      }
      return Effect.sync(() => {
        clearTimeout(timer)
        this.resume = undefined
      })
    })
  }
}
