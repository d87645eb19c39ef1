/**
 * The node's latest model activity — pulling the model into the store, then loading it into memory —
 * as the protocol's ModelProgress, for the MQTT status, /readyz and systemd. Listeners hear a change
 * of phase, `ready` and `failed` at once, and progress within a phase at most once per interval and
 * only when the whole percent moved (a 637 MB pull on a slow site link is ~100 messages, not 10 000).
 */
import { EventEmitter } from "node:events";
import type { PullProgress } from "../models/store/pullModel.js";
import type { ModelProgress } from "./protocol/messages.js";

export interface ModelProgressTrackerOptions {
  /** Least time between two progress messages of one phase. Defaults to 1000 ms. */
  minIntervalMs?: number;
  /** Milliseconds clock; injectable for tests. Defaults to performance.now. */
  now?: () => number;
}

export interface ModelProgressEvents {
  change: [progress: ModelProgress];
}

export class ModelProgressTracker extends EventEmitter<ModelProgressEvents> {
  private latest: ModelProgress | null = null;
  private told: ModelProgress | null = null;
  private toldAt = 0;

  constructor(private readonly options: ModelProgressTrackerOptions = {}) {
    super();
  }

  /** The latest activity, exactly (not throttled); null before the first pull or load. */
  get current(): ModelProgress | null {
    return this.latest;
  }

  /** Progress of a pull, as models/store/pullModel reports it. */
  pulling(model: string, progress: PullProgress): void {
    const { bytes, totalBytes } = progress;
    this.update({
      phase: progress.phase,
      model,
      bytes,
      total_bytes: totalBytes,
      percent: totalBytes ? wholePercent(bytes / totalBytes) : null,
      bytes_per_s: progress.phase === "downloading" ? Math.round(progress.bytesPerSecond) : null,
    });
  }

  /** Progress of loading a model into memory (fraction 0–1). */
  loading(model: string, fraction: number): void {
    this.update({
      phase: "loading",
      model,
      bytes: null,
      total_bytes: null,
      percent: wholePercent(fraction),
      bytes_per_s: null,
    });
  }

  ready(model: string): void {
    this.update({ phase: "ready", model, bytes: null, total_bytes: null, percent: 100, bytes_per_s: null });
  }

  failed(model: string, error: { code: string; message: string }): void {
    const last = this.latest?.model === model ? this.latest : undefined;
    this.update({
      phase: "failed",
      model,
      bytes: last?.bytes ?? null,
      total_bytes: last?.total_bytes ?? null,
      percent: last?.percent ?? null,
      bytes_per_s: null,
      error,
    });
  }

  private update(next: ModelProgress): void {
    this.latest = next;
    const now = (this.options.now ?? (() => performance.now()))();
    const told = this.told;
    const newPhase = told === null || told.phase !== next.phase || told.model !== next.model;
    if (!newPhase) {
      if (next.phase === "ready" || next.phase === "failed") return;
      if (now - this.toldAt < (this.options.minIntervalMs ?? 1000)) return;
      const moved = next.percent === null ? next.bytes !== told.bytes : next.percent !== told.percent;
      if (!moved) return;
    }
    this.told = next;
    this.toldAt = now;
    this.emit("change", next);
  }
}

function wholePercent(fraction: number): number {
  return Math.max(0, Math.min(100, Math.floor(fraction * 100)));
}
