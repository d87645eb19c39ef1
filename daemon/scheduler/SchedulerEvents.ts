import type { Backend } from "../../hal/backends/Backend.js";
import type { FinalMessage } from "../protocol/messages.js";
import type { SchedulerStats } from "./SchedulerStats.js";

/** What the scheduler tells the daemon (metrics, status, the backend fallback). */
export interface SchedulerEvents {
  /** A request ended (for metrics). */
  finished: [message: FinalMessage, timings: { completionTokens: number }];
  /** The backend threw (not a client error): the daemon may fall back to another backend. */
  backendFailed: [backend: Backend, error: unknown];
  /** Queue depth or running count changed. */
  load: [stats: SchedulerStats];
}
