/**
 * Prometheus metrics of one daemon (prom-client): requests by outcome, queue depth, tokens, TTFT and
 * decode-rate histograms, what runs (backend, model), board temperature and the process's own
 * figures (RSS, CPU, event-loop lag: prom-client's default collectors). The node's state and queue
 * are read from NodeStatus at each scrape, so /metrics, /healthz and the MQTT status agree.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { NodeStatus } from "../NodeStatus.js";
import { packageVersion } from "../packageVersion.js";
import type { FinalMessage } from "../protocol/messages.js";

export class DaemonMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<"outcome">;
  private readonly tokens: Counter;
  private readonly ttft: Histogram;
  private readonly decodeRate: Histogram;
  private readonly decodeBatchSequences: Histogram;
  private readonly queued: Gauge;
  private readonly running: Gauge;
  private readonly info: Gauge<"backend" | "model" | "version">;
  private readonly temperature: Gauge<"zone">;
  private readonly ready: Gauge;
  private readonly mqttLedgerDegraded: Gauge;
  private readonly promptTokens: Counter<"source">;
  private readonly sequenceStates: Counter<"event">;
  private readonly sequenceStateBytes: Gauge;

  constructor(status: NodeStatus) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: "tinyllamad_requests_total",
      help: "Requests that ended, by outcome (stop, length, cancelled, or an error code).",
      labelNames: ["outcome"],
      registers,
    });
    this.tokens = new Counter({ name: "tinyllamad_generated_tokens_total", help: "Tokens generated.", registers });
    this.ttft = new Histogram({
      name: "tinyllamad_time_to_first_token_seconds",
      help: "From acceptance to the first generated token.",
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32],
      registers,
    });
    this.decodeRate = new Histogram({
      name: "tinyllamad_decode_tokens_per_second",
      help: "Decode rate of each request after its first token.",
      buckets: [1, 2, 4, 6, 8, 10, 15, 20, 30, 50, 100],
      registers,
    });
    this.decodeBatchSequences = new Histogram({
      name: "tinyllamad_decode_batch_sequences",
      help: "Sequences that sampled a token in each batched decode step (llama.cpp backends with scheduler.parallelSequences > 1): near the number of running requests when concurrent requests are decoded together.",
      buckets: [1, 2, 3, 4, 6, 8, 12, 16],
      registers,
    });
    this.queued = new Gauge({
      name: "tinyllamad_queue_depth",
      help: "Requests waiting for a sequence.",
      registers,
      collect: () => this.queued.set(status.metricsFigures().queued),
    });
    this.running = new Gauge({
      name: "tinyllamad_running_requests",
      help: "Requests being generated.",
      registers,
      collect: () => this.running.set(status.metricsFigures().running),
    });
    this.info = new Gauge({
      name: "tinyllamad_backend_info",
      help: "What this daemon runs (value 1).",
      labelNames: ["backend", "model", "version"],
      registers,
      collect: () => {
        const { backend, model } = status.metricsFigures();
        this.info.reset();
        if (backend !== null && model !== null) this.info.set({ backend, model, version: packageVersion() }, 1);
      },
    });
    this.temperature = new Gauge({
      name: "tinyllamad_temperature_celsius",
      help: "Board temperature by thermal zone.",
      labelNames: ["zone"],
      registers,
    });
    this.ready = new Gauge({
      name: "tinyllamad_ready",
      help: "1 while serving, else 0.",
      registers,
      collect: () => this.ready.set(status.metricsFigures().ready ? 1 : 0),
    });
    this.mqttLedgerDegraded = new Gauge({
      name: "tinyllamad_mqtt_ledger_degraded",
      help: "1 while the MQTT delivery ledger cannot be written (full or read-only state directory): new MQTT requests wait at the broker; else 0.",
      registers,
    });
    this.promptTokens = new Counter({
      name: "tinyllamad_prompt_tokens_total",
      help: 'Prompt tokens of finished requests by source: "reused" from a prefix a sequence held or loaded from disk (not evaluated again; with or without a session id), "evaluated" (the prefill).',
      labelNames: ["source"],
      registers,
    });
    this.sequenceStates = new Counter({
      name: "tinyllamad_sequence_states_total",
      help: "Evaluated sequence states on disk (backend.sequenceStateMaxBytes), by event: saved (a conversation about to be overwritten, or resident at a stop or model swap), restored (loaded back instead of evaluated), evicted (least recently used, for room), replaced (by a longer state of the same conversation), rejected (corrupt, unreadable or refused by llama.cpp: deleted), failed (not saved: disk full or read-only), unsaved (resident at a stop or model swap, but the time to save it, scheduler.shutdownGraceMs, ran out).",
      labelNames: ["event"],
      registers,
    });
    this.sequenceStateBytes = new Gauge({
      name: "tinyllamad_sequence_state_bytes",
      help: "Bytes the evaluated sequence states take on disk (at most backend.sequenceStateMaxBytes).",
      registers,
    });
  }

  sequenceState(event: string, usedBytes: number): void {
    if (event !== "opened") this.sequenceStates.inc({ event });
    this.sequenceStateBytes.set(usedBytes);
  }

  setMqttLedgerDegraded(degraded: boolean): void {
    this.mqttLedgerDegraded.set(degraded ? 1 : 0);
  }

  requestFinished(message: FinalMessage, completionTokens: number): void {
    this.requests.inc({ outcome: message.type === "done" ? message.finish_reason : message.error.code });
    this.tokens.inc(completionTokens);
    if (message.type !== "done") return;
    this.promptTokens.inc({ source: "reused" }, message.usage.cached_prompt_tokens);
    this.promptTokens.inc({ source: "evaluated" }, message.usage.evaluated_prompt_tokens);
    if (message.timings.ttft_ms !== null) this.ttft.observe(message.timings.ttft_ms / 1000);
    if (message.timings.tokens_per_s !== null) this.decodeRate.observe(message.timings.tokens_per_s);
  }

  decodeBatch(sequences: number): void {
    this.decodeBatchSequences.observe(sequences);
  }

  temperatures(zones: Array<{ zone: string; celsius: number }>): void {
    for (const { zone, celsius } of zones) this.temperature.set({ zone }, celsius);
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
