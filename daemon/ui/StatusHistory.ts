/**
 * The last 15 minutes of the figures the page charts (tokens/s, queue depth, temperature), sampled
 * from NodeStatus every few seconds, so a page opened now draws the recent past at once. It keeps
 * only numbers the status already reports: nothing about requests or prompts.
 */
import { EventEmitter } from "node:events";
import type { NodeStatus } from "../NodeStatus.js";

export interface StatusSample {
  /** Milliseconds since the epoch. */
  t: number;
  tokens_per_s: number | null;
  queued: number;
  running: number;
  temperature_celsius: number | null;
}

export interface StatusHistoryOptions {
  status: NodeStatus;
  /** How often a sample is taken. */
  intervalMs: number;
  /** How far back samples are kept. */
  spanMs: number;
}

export class StatusHistory extends EventEmitter<{ sample: [StatusSample] }> {
  private samples: StatusSample[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: StatusHistoryOptions) {
    super();
  }

  start(): void {
    this.take();
    this.timer = setInterval(() => this.take(), this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.removeAllListeners();
  }

  /** The samples of the last span, oldest first. */
  recent(): StatusSample[] {
    return [...this.samples];
  }

  private take(): void {
    const health = this.options.status.health();
    const queue = health.queue as { queued?: number; running?: number } | null;
    const sample: StatusSample = {
      t: Date.now(),
      tokens_per_s: typeof health.tokens_per_s === "number" ? health.tokens_per_s : null,
      queued: queue?.queued ?? 0,
      running: queue?.running ?? 0,
      temperature_celsius: typeof health.temperature_celsius === "number" ? health.temperature_celsius : null,
    };
    const oldest = sample.t - this.options.spanMs;
    this.samples = [...this.samples.filter((kept) => kept.t >= oldest), sample];
    this.emit("sample", sample);
  }
}
