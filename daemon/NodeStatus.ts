/**
 * The node's figures and state, assembled in one place: /healthz and /readyz, the admin `status`
 * answer, systemd's STATUS= line, the MQTT status topic and the metrics all read them from here, so
 * they cannot disagree (one tokens/s mean, one uptime, one idea of "ready").
 *
 * It holds what only the daemon knows (its state, the model progress, recent decode rates, the swap
 * in progress) and reads the rest from its sources when asked. Listeners hear `change` (state,
 * progress, swap: tell at once), `figures` (queue, rates, temperature: throttling is theirs) and
 * `activity` (start-up work worth a systemd STATUS line).
 */
import { EventEmitter } from "node:events";
import { basename } from "node:path";
import type { BackendInfo, BackendKind } from "../hal/backends/Backend.js";
import type { Calibration } from "../hal/calibration/calibrateBackends.js";
import { ModelProgressTracker } from "./ModelProgressTracker.js";
import { packageVersion } from "./packageVersion.js";
import type { ModelProgress, NodeStatusMessage, SwapProgress } from "./protocol/messages.js";
import type { SchedulerStats } from "./scheduler/Scheduler.js";

export type DaemonState = "idle" | "pulling" | "loading" | "serving" | "reloading" | "stopping" | "stopped";

export interface BackendFallback {
  from: BackendKind;
  reason: string;
}

export interface NodeStatusSources {
  backend(): BackendInfo | undefined;
  queue(): SchedulerStats | undefined;
  thermal(): { celsius: number | null; hot: boolean; throttled: boolean } | undefined;
  fallbacks(): readonly BackendFallback[];
  calibration(): Calibration | undefined;
  liveness(): { alive: boolean; reason?: string };
  /** The node's name (mqtt.nodeId; the node has it even with MQTT off). */
  nodeId(): string;
  /** The MQTT connection; undefined while MQTT is off. `fleet`: taking fleet-wide requests now. */
  mqtt(): { connected: boolean; fleet: boolean } | undefined;
  /** Why the HAL planned the serving backend (doctor's reasons) and the cores it runs on. */
  plan(): { reasons: readonly string[]; cores: readonly number[]; candidates: readonly string[] } | undefined;
  /** The serving model's quantization from its GGUF header (e.g. Q4_K_M); null when unknown. */
  quantization(): string | null;
}

/** The MQTT status message's figures; the transport adds what only it knows (node, fleet, ledger, instance). */
export type NodeStatusFigures = Omit<
  NodeStatusMessage,
  "type" | "node" | "fleet" | "updated_at" | "ledger" | "instance" | "started_at"
>;

export interface NodeStatusEvents {
  /** The state, the model progress or a swap changed: worth telling at once. */
  change: [];
  /** A figure moved (queue, decode rate, temperature): worth telling, throttled by the reader. */
  figures: [];
  /** Start-up or swap work (pulling, calibrating, loading) as one line, with how long it may take. */
  activity: [text: string, extendMs: number];
}

/** How many recent requests the tokens/s mean covers. */
const rateWindow = 10;

export class NodeStatus extends EventEmitter<NodeStatusEvents> {
  readonly progress = new ModelProgressTracker();
  readonly startedAt = Date.now();
  private currentState: DaemonState = "idle";
  private rates: number[] = [];
  private currentSwap: SwapProgress | null = null;
  private sources: Partial<NodeStatusSources> = {};

  constructor() {
    super();
    this.progress.on("change", () => this.emit("change"));
  }

  /** Parts register their sources as they are built (the scheduler, the backend manager, the thermal guard). */
  readFrom(sources: Partial<NodeStatusSources>): void {
    this.sources = { ...this.sources, ...sources };
  }

  get state(): DaemonState {
    return this.currentState;
  }

  set state(next: DaemonState) {
    if (next === this.currentState) return;
    this.currentState = next;
    this.emit("change");
  }

  get ready(): boolean {
    return this.currentState === "serving";
  }

  get swap(): SwapProgress | null {
    return this.currentSwap;
  }

  set swap(next: SwapProgress | null) {
    this.currentSwap = next;
    this.emit("change");
  }

  activity(text: string, extendMs: number): void {
    this.emit("activity", text, extendMs);
  }

  /** A finished request's decode rate, for the mean. */
  recordRate(tokensPerSecond: number): void {
    this.rates = [...this.rates.slice(-(rateWindow - 1)), tokensPerSecond];
    this.emit("figures");
  }

  /** A source's figure moved (the queue, a temperature). */
  figuresMoved(): void {
    this.emit("figures");
  }

  /** Mean decode rate of the recent requests, to 0.1 tok/s; null before the first. */
  get tokensPerSecond(): number | null {
    if (this.rates.length === 0) return null;
    return Math.round((this.rates.reduce((a, b) => a + b, 0) / this.rates.length) * 10) / 10;
  }

  /** Which backend serves which model: only while serving (a loading model is not served yet). */
  private serving(): BackendInfo | undefined {
    if (this.currentState !== "serving" && this.currentState !== "reloading") return undefined;
    try {
      return this.sources.backend?.();
    } catch {
      return undefined; // unloaded while stopping
    }
  }

  /** Whether generation makes progress (systemd's watchdog, /healthz). */
  liveness(): { alive: boolean; reason?: string } {
    return this.sources.liveness?.() ?? { alive: true };
  }

  /** /healthz, /readyz and the admin `status` answer: everything, for operators. */
  health(): { ready: boolean; alive: boolean; state: DaemonState } & Record<string, unknown> {
    const info = this.serving();
    const liveness = this.liveness();
    const thermal = this.sources.thermal?.();
    return {
      ready: this.ready,
      alive: liveness.alive,
      ...(liveness.reason ? { reason: liveness.reason } : {}),
      state: this.currentState,
      model_progress: this.progress.current,
      swap: this.currentSwap,
      version: packageVersion(),
      backend: info?.kind ?? null,
      model: info ? basename(info.modelPath) : null,
      threads: info?.threads ?? null,
      cpu_threadpool: info?.cpuThreadpool ?? null,
      tokens_per_s: this.tokensPerSecond,
      fallbacks: this.sources.fallbacks?.() ?? [],
      calibration: this.sources.calibration?.() ?? null,
      temperature_celsius: thermal?.celsius ?? null,
      thermal_pause: thermal?.hot ?? false,
      throttled: thermal?.throttled ?? false,
      uptime_s: this.uptimeSeconds(),
      queue: this.sources.queue?.() ?? null,
      node_id: this.sources.nodeId?.() ?? null,
      quantization: info ? (this.sources.quantization?.() ?? null) : null,
      plan: info ? this.planSummary() : null,
      mqtt: this.mqttConnection(),
    };
  }

  private planSummary(): { reasons: string[]; cores: number[]; candidates: string[] } | null {
    const plan = this.sources.plan?.();
    return plan ? { reasons: [...plan.reasons], cores: [...plan.cores], candidates: [...plan.candidates] } : null;
  }

  private mqttConnection(): { enabled: boolean; connected: boolean; fleet: boolean } {
    const mqtt = this.sources.mqtt?.();
    return mqtt ? { enabled: true, ...mqtt } : { enabled: false, connected: false, fleet: false };
  }

  /** The MQTT status topic's figures. */
  mqttFigures(): NodeStatusFigures {
    const state = this.currentState === "pulling" || this.currentState === "loading" ? this.currentState : "online";
    const info = state === "online" ? this.serving() : undefined;
    const thermal = this.sources.thermal?.();
    const queue = this.sources.queue?.();
    return {
      state,
      version: packageVersion(),
      model: info ? basename(info.modelPath) : null,
      backend: info?.kind ?? null,
      threads: info?.threads ?? null,
      tokens_per_s: this.tokensPerSecond,
      temperature_celsius: thermal?.celsius ?? null,
      thermal_pause: thermal?.hot ?? false,
      throttled: thermal?.throttled ?? false,
      fallbacks: this.sources.fallbacks?.().length ?? 0,
      model_progress: this.progress.current,
      ...(this.currentSwap ? { swap: this.currentSwap } : {}),
      queue: { queued: queue?.queued ?? 0, running: queue?.running ?? 0 },
      requests: { completed: queue?.completed ?? 0, failed: queue?.failed ?? 0, cancelled: queue?.cancelled ?? 0 },
      uptime_s: this.uptimeSeconds(),
    };
  }

  /** One line for `systemctl status`: serving on cpu ×4, running 1, queue 3, 14.8 tok/s. */
  statusLine(): string {
    const info = this.serving();
    const queue = this.sources.queue?.();
    if (this.currentSwap)
      return `swapping ${this.currentSwap.from} → ${this.currentSwap.to} (${this.currentSwap.mode === "unload-first" ? "old model unloaded first: both do not fit memory" : "side by side"})`;
    if (!info || !queue) return this.currentState;
    const parts = [`serving on ${info.kind} ×${info.threads}`, `running ${queue.running}`, `queue ${queue.queued}`];
    const rate = this.tokensPerSecond;
    if (rate !== null) parts.push(`${rate.toFixed(1)} tok/s`);
    const thermal = this.sources.thermal?.();
    if (thermal?.celsius != null) parts.push(`${thermal.celsius.toFixed(0)} °C`);
    if (thermal?.hot) parts.push("hot: batch work paused");
    if (thermal?.throttled) parts.push("throttled");
    return parts.join(", ");
  }

  /** The Prometheus gauges' figures, read at each scrape. */
  metricsFigures(): { ready: boolean; queued: number; running: number; backend: string | null; model: string | null } {
    const info = this.serving();
    const queue = this.sources.queue?.();
    return {
      ready: this.ready,
      queued: queue?.queued ?? 0,
      running: queue?.running ?? 0,
      backend: info?.kind ?? null,
      model: info ? basename(info.modelPath) : null,
    };
  }

  /** The latest model activity (pull, load, ready, failed). */
  get modelProgress(): ModelProgress | null {
    return this.progress.current;
  }

  private uptimeSeconds(): number {
    return Math.round((Date.now() - this.startedAt) / 1000);
  }
}
