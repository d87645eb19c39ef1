/** tinyllamad as its own process, measured through its WebSocket or MQTT API. */
import { readFileSync } from "node:fs";
import { DaemonProcess } from "../../harness/DaemonProcess.js";
import { MqttProbeClient } from "../../harness/MqttProbeClient.js";
import { ProtocolClient } from "../../harness/ProtocolClient.js";
import { type GenerationTiming, timingFrom } from "../measurements.js";

export interface DaemonLegOptions {
  modelPath: string;
  threads: number;
  parallelSequences: number;
  mqttUrl?: string;
}

export class DaemonLeg {
  private readonly daemon: DaemonProcess;
  private client: ProtocolClient | undefined;
  private mqtt: MqttProbeClient | undefined;
  private counter = 0;

  constructor(private readonly options: DaemonLegOptions) {
    this.daemon = new DaemonProcess([
      "--model.path",
      options.modelPath,
      "--backend.threads",
      String(options.threads),
      "--scheduler.parallelSequences",
      String(options.parallelSequences),
      "--model.contextSize",
      "2048",
      "--http.port",
      "0",
      "--log.level",
      "info",
      ...(options.mqttUrl
        ? ["--mqtt.url", options.mqttUrl, "--mqtt.nodeId", "bench", "--state.directory", "/tmp"]
        : ["--mqtt.enabled", "false"]),
    ]);
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
    session?: string,
  ): Promise<GenerationTiming & { promptTokens: number; cached: number }> {
    const client = this.client!;
    const id = `ws-${process.pid}-${this.counter++}`;
    const times: number[] = [];
    const onMessage = (data: unknown) => {
      if (String(data).includes(`"type":"token","id":"${id}"`)) times.push(performance.now());
    };
    client.socket.on("message", onMessage);
    const startedAt = performance.now();
    const answer = await client.request(
      { id, prompt, max_tokens: tokens, temperature: 0, ...(session ? { session } : {}) },
      600_000,
    );
    client.socket.off("message", onMessage);
    if (answer.final.type !== "done") throw new Error(`daemon answered ${JSON.stringify(answer.final)}`);
    return {
      ...timingFrom(startedAt, times),
      promptTokens: answer.final.usage.prompt_tokens,
      cached: answer.final.usage.cached_prompt_tokens,
    };
  }

  async viaMqtt(prompt: string, tokens: number): Promise<GenerationTiming> {
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
    return timingFrom(startedAt, times);
  }

  /** `count` streams at once; aggregate generated tokens per second of wall time. */
  async concurrent(prompts: string[], tokens: number): Promise<number> {
    const started = performance.now();
    const results = await Promise.all(prompts.map((prompt) => this.viaWebSocket(prompt, tokens)));
    const total = results.reduce((sum, r) => sum + r.tokens, 0);
    return (total * 1000) / (performance.now() - started);
  }

  /** Resident memory that is not file-backed (i.e. beyond the mmapped model), in MB. */
  anonymousRssMb(): number {
    const status = readFileSync(`/proc/${this.daemon.pid}/status`, "utf8");
    const kb = Number(/RssAnon:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
    return kb / 1024;
  }

  /** CPU used while idle, as a percentage of one core, over `ms`. */
  async idleCpuPercent(ms = 3000): Promise<number> {
    const ticks = () => {
      const fields = readFileSync(`/proc/${this.daemon.pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
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
  }
}
