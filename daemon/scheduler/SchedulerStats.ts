/** The scheduler's queue, running count and counters since start (status, metrics). */
export interface SchedulerStats {
  queued: number;
  running: number;
  accepted: number;
  completed: number;
  failed: number;
  cancelled: number;
  tokensGenerated: number;
}
