import type { FinalMessage, GenerateRequest } from "../protocol/messages.js";
import type { RequestHandle } from "./RequestHandle.js";
import type { ResponseSink } from "./ResponseSink.js";

/** Why a request was ended before its backend finished it. */
export type EndCause = "cancelled" | "deadline" | "shutdown";

/** The client of requests whose sink names none; no transport key is empty. */
const anonymousClient = "";

/** One accepted (or refused) request, from submit to its single final message. */
export class ScheduledJob {
  readonly client: string;
  readonly acceptedAt = performance.now();
  startedAt?: number;
  firstTokenAt?: number;
  lastTokenAt?: number;
  /**
   * Tokens the backend evaluates before this job next shows progress: the prompt chunk in flight
   * during the prefill, one after it (a decode step); 0 before the backend first reports.
   */
  tokensInFlight = 0;
  /** The next streamed token's sequence number. */
  seq = 0;
  text = "";
  readonly abort = new AbortController();
  endCause?: EndCause;
  deadlineTimer?: NodeJS.Timeout;
  /** Set with the final message: whatever ends the job later (a late abort, a deadline) is a no-op. */
  done = false;
  readonly finished: Promise<FinalMessage>;
  readonly resolveFinished: (message: FinalMessage) => void;

  constructor(
    readonly request: GenerateRequest,
    readonly sink: ResponseSink,
  ) {
    this.client = sink.client ?? anonymousClient;
    let resolveFinished!: (message: FinalMessage) => void;
    this.finished = new Promise<FinalMessage>((resolve) => {
      resolveFinished = resolve;
    });
    this.resolveFinished = resolveFinished;
  }

  /** What the transport that submitted the job holds of it; `cancel` is the scheduler's to define. */
  handle(cancel: () => void): RequestHandle {
    const started = () => this.startedAt !== undefined;
    return {
      cancel,
      finished: this.finished,
      get started() {
        return started();
      },
    };
  }
}
