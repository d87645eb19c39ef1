/** tinyllamad as its own process, measured through its WebSocket or MQTT API. */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DaemonProcess } from "../../harness/DaemonProcess.js";
import { MqttProbeClient } from "../../harness/MqttProbeClient.js";
import { ProtocolClient } from "../../harness/ProtocolClient.js";
import { type ProcessMemory, processMemory } from "../../harness/processMemory.js";
import { type GenerationTiming, timingFrom } from "../measurements.js";

export interface DaemonLegOptions {
  modelPath: string;
  threads: number;
  parallelSequences: number;
  mqttUrl?: string;
  /** false: every prompt is evaluated from its first token (cold legs, as llama-server cache_prompt:false). */
  prefixReuse?: boolean;
  /** More settings as flags (e.g. ["--backend.useMmap", "true"]). */
  extraArgs?: string[];
  /** Options for node itself (e.g. --cpu-prof). */
  nodeArguments?: string[];
}

/** One generation's timings with the counts the daemon's `usage` reports. */
export interface UsageTiming extends GenerationTiming {
  promptTokens: number;
  /** Prompt tokens the daemon did not evaluate (reused from a cached prefix). */
  reusedTokens: number;
  text: string;
}

export class DaemonLeg {
  private readonly daemon: DaemonProcess;
  /** A fresh state directory per run: no MQTT journal or calibration survives from an earlier one. */
  private readonly stateDirectory = mkdtempSync(join(tmpdir(), "tinyllamad-bench-state-"));
  private client: ProtocolClient | undefined;
  private mqtt: MqttProbeClient | undefined;
  private counter = 0;

  constructor(private readonly options: DaemonLegOptions) {
    this.daemon = new DaemonProcess(
      [
        "--model.path",
        options.modelPath,
        "--backend.threads",
        String(options.threads),
        "--scheduler.parallelSequences",
        String(options.parallelSequences),
        "--model.contextSize",
        "2048",
        "--backend.prefixReuse",
        String(options.prefixReuse ?? true),
        "--http.port",
        "0",
        "--log.level",
        "info",
        "--state.directory",
        this.stateDirectory,
        ...(options.mqttUrl ? ["--mqtt.url", options.mqttUrl, "--mqtt.nodeId", "bench"] : ["--mqtt.enabled", "false"]),
        ...(options.extraArgs ?? []),
      ],
      {},
      options.nodeArguments,
    );
  }

  get pid(): number {
    const pid = this.daemon.pid;
    if (pid === undefined) throw new Error("the daemon is not running");
    return pid;
  }

  async start(): Promise<void> {
    const url = await this.daemon.start(300_000);
    this.client = await ProtocolClient.connect(url);
    if (this.options.mqttUrl) {
      this.mqtt = await MqttProbeClient.connect(this.options.mqttUrl);
      await this.mqtt.subscribe("bench-replies/#");
    }
  }

  /** One generation over WebSocket; times measured from the send. */
  async viaWebSocket(
    prompt: string,
    tokens: number,
    extra: { session?: string; json_schema?: Record<string, unknown> } = {},
  ): Promise<UsageTiming> {
    const client = this.client!;
    const id = `ws-${process.pid}-${this.counter++}`;
    const times: number[] = [];
    let text = "";
    const onMessage = (data: unknown) => {
      const raw = String(data);
      if (!raw.includes(`"type":"token","id":"${id}"`)) return;
      times.push(performance.now());
      text += (JSON.parse(raw) as { text?: string }).text ?? "";
    };
    client.socket.on("message", onMessage);
    const startedAt = performance.now();
    const answer = await client.request({ id, prompt, max_tokens: tokens, temperature: 0, ...extra }, 600_000);
    client.socket.off("message", onMessage);
    if (answer.final.type !== "done") throw new Error(`daemon answered ${JSON.stringify(answer.final)}`);
    const usage = answer.final.usage;
    return {
      ...timingFrom(startedAt, times, usage.completion_tokens),
      promptTokens: usage.prompt_tokens,
      reusedTokens: usage.cached_prompt_tokens,
      text,
    };
  }

  async viaMqtt(prompt: string, tokens: number): Promise<UsageTiming> {
    const mqtt = this.mqtt;
    if (!mqtt) throw new Error("this leg has no MQTT broker");
    const id = `mqtt-${process.pid}-${Date.now()}-${this.counter++}`;
    const times: number[] = [];
    const onMessage = (_topic: string, payload: Buffer) => {
      if (payload.includes(`"type":"token","id":"${id}"`)) times.push(performance.now());
    };
    mqtt.client.on("message", onMessage);
    const startedAt = performance.now();
    await mqtt.publish(
      "tinyllamad/bench/request",
      { type: "generate", id, prompt, max_tokens: tokens, temperature: 0 },
      { properties: { responseTopic: `bench-replies/${id}` } },
    );
    const final = await mqtt.final(id, 600_000);
    mqtt.client.off("message", onMessage);
    if (final.type !== "done") throw new Error(`daemon answered ${JSON.stringify(final)}`);
    return {
      ...timingFrom(startedAt, times, final.usage.completion_tokens),
      promptTokens: final.usage.prompt_tokens,
      reusedTokens: final.usage.cached_prompt_tokens,
      text: "",
    };
  }

  /** `count` streams at once; aggregate generated tokens (from usage) per second of wall time. */
  async concurrent(prompts: string[], tokens: number): Promise<number> {
    const started = performance.now();
    const results = await Promise.all(prompts.map((prompt) => this.viaWebSocket(prompt, tokens)));
    const total = results.reduce((sum, r) => sum + r.tokens, 0);
    return (total * 1000) / (performance.now() - started);
  }

  memory(): ProcessMemory {
    return processMemory(this.pid);
  }

  /** CPU used while idle, as a percentage of one core, over `ms`. */
  async idleCpuPercent(ms = 3000): Promise<number> {
    const ticks = () => {
      const fields = readFileSync(`/proc/${this.pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
      return Number(fields[11]) + Number(fields[12]);
    };
    const before = ticks();
    await new Promise((resolve) => setTimeout(resolve, ms));
    return ((ticks() - before) / 100 / (ms / 1000)) * 100;
  }

  async stop(): Promise<void> {
    await this.client?.close();
    await this.mqtt?.end();
    await this.daemon.stop();
    rmSync(this.stateDirectory, { recursive: true, force: true });
  }
}
