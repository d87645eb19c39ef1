/**
 * A bounded, prioritised queue in front of one backend. It owns the lifecycle of every accepted
 * request and guarantees that each one ends with exactly one final message (done or error), however
 * it ends: finished, cancelled, past its deadline, failed, or cut off by shutdown.
 *
 * This file is the lifecycle itself (admit, dispatch, run, end); the rules it applies live beside it:
 * admissionRefusal (which requests are refused), FairQueue (which runs next), BackendOccupancy (when a
 * swapped-out backend may be freed), GracePeriod (shutdown), doneMessage and endCauseError (answers).
 */
import { EventEmitter } from "node:events";
import type { Backend, GenerationResult, PrefillProgress } from "../../hal/backends/Backend.js";
import { isProtocolError, ProtocolError } from "../protocol/errorCodes.js";
import type { FinalMessage, GenerateRequest, ServerMessage } from "../protocol/messages.js";
import { admissionRefusal } from "./admissionRefusal.js";
import { BackendOccupancy } from "./BackendOccupancy.js";
import { doneMessage } from "./doneMessage.js";
import { endCauseError } from "./endCauseError.js";
import { FairQueue } from "./FairQueue.js";
import { GracePeriod } from "./GracePeriod.js";
import { perClientLimit } from "./perClientLimit.js";
import type { RequestHandle } from "./RequestHandle.js";
import type { ResponseSink } from "./ResponseSink.js";
import { requestAcceptedLogFields } from "./requestAcceptedLogFields.js";
import { requestFinishedLogFields } from "./requestFinishedLogFields.js";
import { type EndCause, ScheduledJob } from "./ScheduledJob.js";
import type { SchedulerEvents } from "./SchedulerEvents.js";
import type { SchedulerOptions } from "./SchedulerOptions.js";
import type { SchedulerStats } from "./SchedulerStats.js";
import { toGenerationJob } from "./toGenerationJob.js";

// Callers import these with the scheduler, as they did when they were declared here.
export type { RequestHandle, ResponseSink, SchedulerEvents, SchedulerOptions, SchedulerStats };

type Priority = GenerateRequest["priority"];

export class Scheduler extends EventEmitter<SchedulerEvents> {
  private readonly queue = new FairQueue<ScheduledJob, Priority>();
  private readonly running = new Set<ScheduledJob>();
  /** Generations still running on each backend (old ones finish after a swap). */
  private readonly occupancy = new BackendOccupancy();
  private accepting = false;
  private notReadyReason: string | undefined;
  private batchPaused = false;
  private readonly gracePeriod = new GracePeriod();
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
    if (this.options.backend !== undefined && this.inFlight() > 0) await this.gracePeriod.wait(graceMs);
    this.gracePeriod.close();
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
    if (previous !== undefined && this.occupancy.isBusy(previous)) await this.occupancy.untilIdle(previous);
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
    if (previous !== undefined && this.occupancy.isBusy(previous)) await this.occupancy.untilIdle(previous);
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
    this.gracePeriod.end();
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
    return perClientLimit(this.options);
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
    const job = new ScheduledJob(request, sink);
    const handle = job.handle(() => this.endEarly(job, "cancelled"));
    const refusal = admissionRefusal(request, job.client, {
      accepting: this.accepting,
      notReadyReason: this.notReadyReason,
      backend: this.options.backend,
      maxQueue: this.options.maxQueue,
      hasRoom: (client) => this.hasRoom(client),
      heldBy: (client) => this.queue.heldBy(client),
      perClientLimit: () => this.perClientLimit(),
    });
    if (refusal !== undefined) {
      this.fail(job, refusal);
      return handle;
    }
    this.counters.accepted += 1;
    this.options.log?.debug(requestAcceptedLogFields(request, this.options.logPrompts), "request accepted");
    if (request.deadline_ms !== undefined) {
      job.deadlineTimer = setTimeout(() => this.endEarly(job, "deadline"), request.deadline_ms);
      job.deadlineTimer.unref();
    }
    this.queue.push(job, job.client, request.priority);
    this.emitLoad();
    this.dispatch();
    return handle;
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

  private async run(job: ScheduledJob, backend: Backend): Promise<void> {
    job.startedAt = performance.now();
    if (this.running.size === 1) this.lastProgressAt = job.startedAt;
    this.emitLoad();
    this.occupancy.started(backend);
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
      this.occupancy.ended(backend);
      this.lastProgressAt = performance.now();
      this.running.delete(job);
      this.queue.ended(job.client);
      this.emitLoad();
      this.dispatch();
      if (this.inFlight() === 0) this.gracePeriod.end();
    }
  }

  /** A prefill chunk done (or begun): progress for the liveness check, however long the prompt. */
  private onPrefill(job: ScheduledJob, progress: PrefillProgress): void {
    this.lastProgressAt = performance.now();
    job.tokensInFlight = progress.nextChunkTokens > 0 ? progress.nextChunkTokens : 1;
    if (progress.evaluatedTokens > 0 && progress.nextChunkTokens > 0)
      this.options.log?.debug(
        { id: job.request.id, evaluated: progress.evaluatedTokens, prompt_tokens: progress.promptTokens },
        "prefill progress",
      );
  }

  private onText(job: ScheduledJob, text: string): void {
    if (job.done || text.length === 0) return;
    job.lastTokenAt = performance.now();
    this.lastProgressAt = job.lastTokenAt;
    job.text += text;
    if (job.request.stream) this.send(job, { type: "token", id: job.request.id, seq: job.seq++, text });
  }

  private complete(job: ScheduledJob, result: GenerationResult): void {
    this.counters.tokensGenerated += result.completionTokens;
    const ended = endCauseError(job);
    if (ended !== undefined) this.fail(job, ended);
    else this.finish(job, doneMessage(job, result), result.completionTokens);
  }

  /** A cancel or a deadline: a running job is aborted (its backend returns early), a queued one ends here. */
  private endEarly(job: ScheduledJob, cause: "cancelled" | "deadline"): void {
    if (job.done) return;
    if (this.running.has(job)) this.abortRunning(job, cause);
    else this.endQueued(job, cause);
  }

  private abortRunning(job: ScheduledJob, cause: EndCause): void {
    job.endCause ??= cause;
    job.abort.abort(new Error(cause));
  }

  private endQueued(job: ScheduledJob, cause: EndCause): void {
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
    if (this.inFlight() === 0) this.gracePeriod.end();
  }

  private fail(job: ScheduledJob, error: ProtocolError): void {
    this.finish(job, { type: "error", id: job.request.id, error: { code: error.code, message: error.message } }, 0);
  }

  private finish(job: ScheduledJob, message: FinalMessage, completionTokens: number): void {
    if (job.done) return;
    job.done = true;
    clearTimeout(job.deadlineTimer);
    if (message.type === "error") this.counters.failed += 1;
    else if (message.finish_reason === "cancelled") this.counters.cancelled += 1;
    else this.counters.completed += 1;
    this.send(job, message);
    this.options.log?.info(requestFinishedLogFields(message), "request finished");
    job.resolveFinished(message);
    this.emit("finished", message, { completionTokens });
  }

  private send(job: ScheduledJob, message: ServerMessage): void {
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
