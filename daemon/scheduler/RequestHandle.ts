import type { FinalMessage } from "../protocol/messages.js";

/** What a transport holds of a request it submitted to the scheduler. */
export interface RequestHandle {
  /** Ends the request with finish_reason "cancelled" (queued or running). No-op once finished. */
  cancel(): void;
  readonly finished: Promise<FinalMessage>;
  /** Whether it has left the queue and runs (a transport may withdraw one still queued at shutdown). */
  readonly started: boolean;
}
