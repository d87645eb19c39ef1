import type { Backend } from "../../hal/backends/Backend.js";

/** What a scheduler is built with; a backend swap and a configuration reload change some of it. */
export interface SchedulerOptions {
  /**
   * The backend to run on. Without one (the model is still being pulled or loaded), accepted
   * requests wait in the queue until `swapBackend` gives it one.
   */
  backend?: Backend | undefined;
  maxQueue: number;
  /**
   * The most one client may hold (waiting + running), as a fraction (0 < x <= 1) of what the
   * scheduler admits at once (maxQueue + concurrency), rounded up, at least 1. 1 (the default)
   * leaves only the shared limits.
   */
  maxQueueSharePerClient?: number | undefined;
  /** Generations run at once (the backend's parallel sequences); 0 while there is no backend. */
  concurrency: number;
  /** Log prompt text (debug level) when requests are accepted. */
  logPrompts?: boolean;
  log?: {
    info(object: object, message: string): void;
    warn(object: object, message: string): void;
    debug(object: object, message: string): void;
  };
}
