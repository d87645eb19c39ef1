/**
 * A bounded, prioritised queue in front of one backend. It owns the lifecycle of every accepted
 * request and guarantees that each one ends with exactly one final message (done or error), however
 * it ends: finished, cancelled, past its deadline, failed, or cut off by shutdown.
 */
import { EventEmitter } from "node:events";
import type { Backend, GenerationResult, PrefillProgress } from "../../hal/backends/Backend.js";
import { checkFits } from "../../hal/backends/checkFits.js";
import { isProtocolError, ProtocolError } from "../protocol/errorCodes.js";
import type { FinalMessage, GenerateRequest, ServerMessage } from "../protocol/messages.js";
import { FairQueue } from "./FairQueue.js";
import { toGenerationJob } from "./toGenerationJob.js";

/** Where the answers of one request go; implemented by each transport. */
export interface ResponseSink {
  send(message: ServerMessage): void;
  /**
   * Who sent the request (a WebSocket connection, an MQTT reply route): the unit of per-client
   * fairness. Requests without one share a single anonymous client.
   */
  readonly client?: string | undefined;
}

/** The client of requests whose sink names none; no transport key is empty. */
const anonymousClient = "";

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

export interface RequestHandle {
  /** Ends the request with finish_reason "cancelled" (queued or running). No-op once finished. */
  cancel(): void;
  readonly finished: Promise<FinalMessage>;
  /** Whether it has left the queue and runs (a transport may withdraw one still queued at shutdown). */
  readonly started: boolean;
}

export interface SchedulerStats {
  queued: number;
  running: number;
  accepted: number;
  completed: number;
  failed: number;
  cancelled: number;
  tokensGenerated: number;
}

type EndCause = "cancelled" | "deadline" | "shutdown";

type Priority = GenerateRequest["priority"];

interface Job {
  request: GenerateRequest;
  sink: ResponseSink;
  client: string;
  acceptedAt: number;
  startedAt?: number;
  firstTokenAt?: number;
  lastTokenAt?: number;
  /**
   * Tokens the backend evaluates before this job next shows progress: the prompt chunk in flight
   * during the prefill, one after it (a decode step); 0 before the backend first reports.
   */
  tokensInFlight: number;
  seq: number;
  text: string;
  abort: AbortController;
  endCause?: EndCause;
  deadlineTimer?: NodeJS.Timeout;
  done: boolean;
  finished: Promise<FinalMessage>;
  resolveFinished(message: FinalMessage): void;
}

export interface SchedulerEvents {
  /** A request ended (for metrics). */
  finished: [message: FinalMessage, timings: { completionTokens: number }];
  /** The backend threw (not a client error): the daemon may fall back to another backend. */
  backendFailed: [backend: Backend, error: unknown];
  /** Queue depth or running count changed. */
  load: [stats: SchedulerStats];
}

export class Scheduler extends EventEmitter<SchedulerEvents> {
  private readonly queue = new FairQueue<Job, Priority>();
  private readonly running = new Set<Job>();
  /** Generations still running on each backend (old ones finish after a swap). */
  private readonly runningOn = new Map<Backend, number>();
  private readonly backendIdle = new Map<Backend, () => void>();
  private accepting = false;
  private notReadyReason: string | undefined;
  private batchPaused = false;
  private drained: (() => void) | undefined;
  private endGrace: (() => void) | undefined;
  /** When a running generation last made progress (started, produced text, or ended). */
  private lastProgressAt = performance.now();
  private readonly counters = { accepted: 0, completed: 0, failed: 0, cancelled: 0, tokensGenerated: 0 };

  constructor(private readonly options: SchedulerOptions) {
    super();
  }

  start(): void {
    this.accepting = true;
  }

  /** Stops accepting; waits up to graceMs for in-flight work, then ends what is left with E_SHUTTING_DOWN. */
  async stop(graceMs: number): Promise<void> {
    this.accepting = false;
    // Without a backend nothing queued can ever run: no grace period to wait out.
    if (this.options.backend !== undefined && this.inFlight() > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, graceMs);
        this.drained = () => {
          clearTimeout(timer);
          resolve();
        };
        this.endGrace = this.drained;
      });
    }
    this.drained = undefined;
    this.endGrace = undefined;
    for (const job of this.queue.waitingItems()) this.endQueued(job, "shutdown");
    const stillRunning = [...this.running];
    for (const job of stillRunning) this.abortRunning(job, "shutdown");
    await Promise.all(stillRunning.map((job) => job.finished));
  }

  get backend(): Backend | undefined {
    return this.options.backend;
  }

  /**
   * Sends new work to `next` (with its own concurrency); generations already running on the old
   * backend finish there. Resolves with the old backend once it has nothing left running (undefined
   * when this gave the scheduler its first backend: requests that waited for it start now).
   */
  async swapBackend(next: Backend, concurrency: number): Promise<Backend | undefined> {
    const previous = this.options.backend;
    this.options.backend = next;
    this.options.concurrency = concurrency;
    this.emitLoad();
    this.dispatch();
    if (previous !== undefined && (this.runningOn.get(previous) ?? 0) > 0)
      await new Promise<void>((resolve) => this.backendIdle.set(previous, resolve));
    return previous;
  }

  /**
   * Takes the backend away and waits for the requests running on it to end; new and queued requests
   * wait in the queue (as during a load) until `swapBackend` gives one again. For a swap whose two
   * models do not fit memory together: the old one must be freed before the new one loads.
   */
  async detachBackend(): Promise<Backend | undefined> {
    const previous = this.options.backend;
    this.options.backend = undefined;
    this.options.concurrency = 0;
    this.emitLoad();
    if (previous !== undefined && (this.runningOn.get(previous) ?? 0) > 0)
      await new Promise<void>((resolve) => this.backendIdle.set(previous, resolve));
    return previous;
  }

  /**
   * While a reason is set, new requests are refused at once with E_NOT_READY and that reason: the
   * model is being pulled, which takes minutes, so no one should be left waiting on it. Requests
   * that arrive while the model loads (seconds) are not refused: they wait in the queue.
   */
  setNotReady(reason: string | undefined): void {
    this.notReadyReason = reason;
    this.emitLoad();
  }

  /** Whether requests are served now: a backend is attached and nothing refuses them. */
  get ready(): boolean {
    return this.accepting && this.options.backend !== undefined && this.notReadyReason === undefined;
  }

  /** Ends a shutdown's grace period now: what is still running is ended with E_SHUTTING_DOWN. */
  endGracePeriod(): void {
    this.endGrace?.();
  }

  /** Settings a configuration reload may change. */
  reconfigure(settings: { maxQueue: number; maxQueueSharePerClient: number; logPrompts: boolean }): void {
    this.options.maxQueue = settings.maxQueue;
    this.options.maxQueueSharePerClient = settings.maxQueueSharePerClient;
    this.options.logPrompts = settings.logPrompts;
    this.dispatch();
  }

  /**
   * How long generations have been running without any progress (0 when nothing runs): the
   * liveness check behind systemd's watchdog. A hung backend makes this grow.
   */
  stalledForMs(now = performance.now()): number {
    return this.running.size === 0 ? 0 : now - this.lastProgressAt;
  }

  /**
   * Tokens the running generations are evaluating before any of them can next show progress: the
   * prompt chunks (or, on a runtime that cannot report within a prefill, whole prompts) in flight,
   * and one per generation past its prefill. They share the backend, so they add up. The stall
   * limit allows for them (stallLimitMs).
   */
  tokensInFlight(): number {
    let tokens = 0;
    for (const job of this.running) tokens += job.tokensInFlight;
    return tokens;
  }

  get accepts(): boolean {
    return this.accepting;
  }

  stats(): SchedulerStats {
    return {
      queued: this.queue.size,
      running: this.running.size,
      ...this.counters,
    };
  }

  /**
   * Whether a new request would be queued rather than refused with E_QUEUE_FULL: there is room in
   * the queue and, when a client is named, in that client's share of it.
   */
  hasRoom(client?: string): boolean {
    const shared = this.queue.size < this.options.maxQueue || this.running.size < this.options.concurrency;
    return shared && (client === undefined || this.queue.heldBy(client) < this.perClientLimit());
  }

  /** The most requests one client may have waiting and running together. */
  perClientLimit(): number {
    const share = this.options.maxQueueSharePerClient ?? 1;
    const admitted = this.options.maxQueue + this.options.concurrency;
    // The epsilon keeps float noise (0.1 × 30 = 3.0000000000000004) from rounding up a whole request.
    return Math.max(1, Math.ceil(share * admitted - 1e-9));
  }

  /** Thermal or operator control: batch-priority work waits while paused. */
  setBatchPaused(paused: boolean): void {
    this.batchPaused = paused;
    if (!paused) this.dispatch();
  }

  /**
   * Accepts a request. Every outcome, including refusal, reaches the sink as exactly one final
   * message; this method never throws for a request.
   */
  submit(request: GenerateRequest, sink: ResponseSink): RequestHandle {
    let resolveFinished!: (message: FinalMessage) => void;
    const finished = new Promise<FinalMessage>((resolve) => {
      resolveFinished = resolve;
    });
    const job: Job = {
      request,
      sink,
      client: sink.client ?? anonymousClient,
      acceptedAt: performance.now(),
      tokensInFlight: 0,
      seq: 0,
      text: "",
      abort: new AbortController(),
      done: false,
      finished,
      resolveFinished,
    };
    const handle: RequestHandle = {
      cancel: () => this.cancel(job),
      finished,
      get started() {
        return job.startedAt !== undefined;
      },
    };
    if (!this.accepting) {
      this.fail(job, new ProtocolError("E_SHUTTING_DOWN"));
      return handle;
    }
    if (this.notReadyReason !== undefined) {
      this.fail(job, new ProtocolError("E_NOT_READY", this.notReadyReason));
      return handle;
    }
    const tooLong = this.promptTooLong(request);
    if (tooLong !== undefined) {
      this.fail(job, tooLong);
      return handle;
    }
    if (!this.hasRoom()) {
      this.fail(job, new ProtocolError("E_QUEUE_FULL", `the queue is full (${this.options.maxQueue} waiting)`));
      return handle;
    }
    if (!this.hasRoom(job.client)) {
      const held = `${this.queue.heldBy(job.client)} requests waiting or running`;
      const message = `this client's share of the queue is full: it has ${held}, the most one client may (${this.perClientLimit()}, scheduler.maxQueueSharePerClient); retry when one ends`;
      this.fail(job, new ProtocolError("E_QUEUE_FULL", message));
      return handle;
    }
    this.counters.accepted += 1;
    this.options.log?.debug(
      {
        id: request.id,
        priority: request.priority,
        max_tokens: request.max_tokens,
        ...(this.options.logPrompts ? { prompt: request.prompt, messages: request.messages } : {}),
      },
      "request accepted",
    );
    if (request.deadline_ms !== undefined) {
      job.deadlineTimer = setTimeout(() => this.expire(job), request.deadline_ms);
      job.deadlineTimer.unref();
    }
    this.queue.push(job, job.client, request.priority);
    this.emitLoad();
    this.dispatch();
    return handle;
  }

  /**
   * The admission check: a prompt the backend's context cannot hold is refused before it is queued,
   * whatever transport it came in on. Without a backend yet (loading) it is checked when it runs.
   */
  private promptTooLong(request: GenerateRequest): ProtocolError | undefined {
    const backend = this.options.backend;
    if (backend === undefined) return undefined;
    try {
      checkFits(backend, toGenerationJob(request));
      return undefined;
    } catch (error) {
      // Anything else (a tokenizer fault) is the run's to report, as E_BACKEND with a fallback.
      return isProtocolError(error) ? error : undefined;
    }
  }

  private inFlight(): number {
    return this.queue.size + this.running.size;
  }

  private dispatch(): void {
    const backend = this.options.backend;
    if (backend === undefined) return;
    while (this.running.size < this.options.concurrency) {
      const job = this.queue.take(this.batchPaused ? interactiveOnly : bothPriorities);
      if (job === undefined) return;
      this.running.add(job);
      void this.run(job, backend);
    }
  }

  private async run(job: Job, backend: Backend): Promise<void> {
    job.startedAt = performance.now();
    if (this.running.size === 1) this.lastProgressAt = job.startedAt;
    this.emitLoad();
    this.runningOn.set(backend, (this.runningOn.get(backend) ?? 0) + 1);
    try {
      const result = await backend.generate(
        toGenerationJob(job.request),
        {
          onText: (text) => this.onText(job, text),
          onFirstToken: () => {
            job.firstTokenAt = performance.now();
          },
          onPrefill: (progress) => this.onPrefill(job, progress),
        },
        job.abort.signal,
      );
      this.complete(job, result);
    } catch (error) {
      if (isProtocolError(error)) this.fail(job, error);
      else {
        this.options.log?.warn({ id: job.request.id, err: error }, "backend failed during generation");
        this.fail(job, new ProtocolError("E_BACKEND", `the backend failed: ${(error as Error).message}`));
        this.emit("backendFailed", backend, error);
      }
    } finally {
      const left = (this.runningOn.get(backend) ?? 1) - 1;
      this.runningOn.set(backend, left);
      if (left === 0) {
        this.backendIdle.get(backend)?.();
        this.backendIdle.delete(backend);
      }
      this.lastProgressAt = performance.now();
      this.running.delete(job);
      this.queue.ended(job.client);
      this.emitLoad();
      this.dispatch();
      if (this.inFlight() === 0) this.drained?.();
    }
  }

  /** A prefill chunk done (or begun): progress for the liveness check, however long the prompt. */
  private onPrefill(job: Job, progress: PrefillProgress): void {
    this.lastProgressAt = performance.now();
    job.tokensInFlight = progress.nextChunkTokens > 0 ? progress.nextChunkTokens : 1;
    if (progress.evaluatedTokens > 0 && progress.nextChunkTokens > 0)
      this.options.log?.debug(
        { id: job.request.id, evaluated: progress.evaluatedTokens, prompt_tokens: progress.promptTokens },
        "prefill progress",
      );
  }

  private onText(job: Job, text: string): void {
    if (job.done || text.length === 0) return;
    job.lastTokenAt = performance.now();
    this.lastProgressAt = job.lastTokenAt;
    job.text += text;
    if (job.request.stream) this.send(job, { type: "token", id: job.request.id, seq: job.seq++, text });
  }

  private complete(job: Job, result: GenerationResult): void {
    this.counters.tokensGenerated += result.completionTokens;
    if (job.endCause === "deadline") {
      this.fail(job, new ProtocolError("E_DEADLINE_EXCEEDED", `deadline of ${job.request.deadline_ms} ms passed`));
      return;
    }
    if (job.endCause === "shutdown") {
      this.fail(job, new ProtocolError("E_SHUTTING_DOWN", "the daemon stopped before the request finished"));
      return;
    }
    const decodeMs = (job.lastTokenAt ?? 0) - (job.firstTokenAt ?? 0);
    this.finish(
      job,
      {
        type: "done",
        id: job.request.id,
        text: result.text,
        finish_reason: result.finishReason,
        usage: {
          prompt_tokens: result.promptTokens,
          completion_tokens: result.completionTokens,
          cached_prompt_tokens: result.reusedPromptTokens,
          evaluated_prompt_tokens: result.evaluatedPromptTokens,
        },
        timings: {
          queue_ms: round((job.startedAt ?? job.acceptedAt) - job.acceptedAt),
          ttft_ms: job.firstTokenAt === undefined ? null : round(job.firstTokenAt - job.acceptedAt),
          tokens_per_s:
            result.completionTokens > 1 && decodeMs > 0
              ? round(((result.completionTokens - 1) * 1000) / decodeMs)
              : null,
        },
      },
      result.completionTokens,
    );
  }

  private cancel(job: Job): void {
    if (job.done) return;
    if (this.running.has(job)) this.abortRunning(job, "cancelled");
    else this.endQueued(job, "cancelled");
  }

  private expire(job: Job): void {
    if (job.done) return;
    if (this.running.has(job)) this.abortRunning(job, "deadline");
    else this.endQueued(job, "deadline");
  }

  private abortRunning(job: Job, cause: EndCause): void {
    job.endCause ??= cause;
    job.abort.abort(new Error(cause));
  }

  private endQueued(job: Job, cause: EndCause): void {
    this.queue.remove(job, job.client, job.request.priority);
    this.emitLoad();
    job.endCause = cause;
    this.complete(job, {
      text: "",
      finishReason: "cancelled",
      promptTokens: 0,
      completionTokens: 0,
      reusedPromptTokens: 0,
      evaluatedPromptTokens: 0,
    });
    if (this.inFlight() === 0) this.drained?.();
  }

  private fail(job: Job, error: ProtocolError): void {
    this.finish(job, { type: "error", id: job.request.id, error: { code: error.code, message: error.message } }, 0);
  }

  private finish(job: Job, message: FinalMessage, completionTokens: number): void {
    if (job.done) return;
    job.done = true;
    clearTimeout(job.deadlineTimer);
    if (message.type === "error") this.counters.failed += 1;
    else if (message.finish_reason === "cancelled") this.counters.cancelled += 1;
    else this.counters.completed += 1;
    this.send(job, message);
    this.options.log?.info(
      message.type === "done"
        ? {
            id: message.id,
            outcome: message.finish_reason,
            completion_tokens: message.usage.completion_tokens,
            prompt_tokens: message.usage.prompt_tokens,
            ...message.timings,
          }
        : { id: message.id, outcome: "error", code: message.error.code },
      "request finished",
    );
    job.resolveFinished(message);
    this.emit("finished", message, { completionTokens });
  }

  private send(job: Job, message: ServerMessage): void {
    try {
      job.sink.send(message);
    } catch (error) {
      this.options.log?.debug({ id: job.request.id, err: error }, "a sink refused a message");
    }
  }

  private emitLoad(): void {
    this.emit("load", this.stats());
  }
}

const bothPriorities: readonly Priority[] = ["interactive", "batch"];
const interactiveOnly: readonly Priority[] = ["interactive"];

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
