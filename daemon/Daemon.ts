/**
 * Wires the parts of a running tinyllamad together and owns their order of start and stop:
 * backend (model loaded) → scheduler → transports; and the reverse on the way down.
 */
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { basename, join } from "node:path";
import type { Backend } from "../hal/backends/Backend.js";
import { LlamaCppBackend } from "../hal/backends/llamaCpp/LlamaCppBackend.js";
import { ModelMissingError, resolveModelPath } from "../models/store/defaultModelLocation.js";
import type { TinyllamadConfig } from "./config/configSchema.js";
import type { Logger } from "./logging/createLogger.js";
import { packageVersion } from "./packageVersion.js";
import type { ProtocolLimits } from "./protocol/parseClientMessage.js";
import { Scheduler } from "./scheduler/Scheduler.js";
import { resolveStateDirectory } from "./stateDirectory.js";
import { EmbeddedBroker } from "./transports/mqtt/EmbeddedBroker.js";
import { MqttTransport } from "./transports/mqtt/MqttTransport.js";
import { RequestJournal } from "./transports/mqtt/RequestJournal.js";
import { assertTokenWhenExposed } from "./transports/transportSecurity.js";
import { WebSocketTransport } from "./transports/websocket/WebSocketTransport.js";

function readOptionalFile(path: string): Buffer | undefined {
  return path.length > 0 ? readFileSync(path) : undefined;
}

function readSecretFile(path: string): string {
  return path.length > 0 ? (readFileSync(path, "utf8").split("\n")[0] ?? "").trim() : "";
}

export type DaemonState = "idle" | "loading" | "serving" | "stopping" | "stopped";

export class Daemon {
  private state: DaemonState = "idle";
  private backend: Backend | undefined;
  private scheduler: Scheduler | undefined;
  private webSocket: WebSocketTransport | undefined;
  private mqtt: MqttTransport | undefined;
  private embeddedBroker: EmbeddedBroker | undefined;
  private readonly startedAt = Date.now();

  constructor(
    private readonly config: TinyllamadConfig,
    private readonly log: Logger,
  ) {}

  get currentState(): DaemonState {
    return this.state;
  }

  /** The WebSocket transport's address once started (ws://host:port/). */
  get webSocketAddress(): string | undefined {
    return this.webSocket?.address();
  }

  async start(): Promise<void> {
    if (this.state !== "idle") throw new Error(`cannot start a daemon that is ${this.state}`);
    this.state = "loading";
    const { config } = this;
    if (config.ws.enabled) assertTokenWhenExposed("ws.host", config.ws.host, "ws.token", config.ws.token);
    const modelPath = resolveModelPath(config.model.path);
    if (!existsSync(modelPath)) throw new ModelMissingError(modelPath);

    const backend = this.createBackend();
    const threads = config.backend.threads > 0 ? config.backend.threads : availableParallelism();
    this.log.info({ component: "backend", kind: backend.kind, modelPath, threads }, "loading model");
    let lastReported = -1;
    await backend.load({
      modelPath,
      contextSize: config.model.contextSize,
      parallelSequences: config.scheduler.parallelSequences,
      threads,
      onProgress: (fraction) => {
        const percent = Math.floor(fraction * 10) * 10;
        if (percent > lastReported) {
          lastReported = percent;
          this.log.debug({ component: "backend", percent }, "loading model");
        }
      },
    });
    this.backend = backend;
    this.log.info({ component: "backend", ...backend.info() }, "model loaded");

    const scheduler = new Scheduler({
      backend,
      maxQueue: config.scheduler.maxQueue,
      concurrency: config.scheduler.parallelSequences,
      log: this.log.child({ component: "scheduler" }),
    });
    scheduler.start();
    this.scheduler = scheduler;

    const limits: ProtocolLimits = {
      maxPromptChars: config.limits.maxPromptChars,
      defaultMaxTokens: config.limits.defaultMaxTokens,
      maxMaxTokens: config.limits.maxMaxTokens,
    };
    if (config.mqtt.enabled) await this.startMqtt(scheduler, limits);
    if (config.ws.enabled) {
      this.webSocket = new WebSocketTransport({
        host: config.ws.host,
        port: config.ws.port,
        token: config.ws.token,
        maxMessageBytes: config.limits.maxMessageBytes,
        limits,
        scheduler,
        log: this.log.child({ component: "websocket" }),
        health: () => this.health(),
      });
      await this.webSocket.start();
    }
    this.state = "serving";
    this.log.info(
      { component: "daemon", websocket: this.webSocket?.address() ?? null, mqtt: this.mqttBrokerUrl ?? null },
      "serving",
    );
  }

  /** Stops accepting, lets in-flight work finish within the grace period, then releases everything. */
  async stop(): Promise<void> {
    if (this.state === "stopping" || this.state === "stopped") return;
    this.state = "stopping";
    this.log.info({ component: "daemon", graceMs: this.config.scheduler.shutdownGraceMs }, "stopping");
    this.webSocket?.stopAccepting();
    await this.mqtt?.stopAccepting();
    await this.scheduler?.stop(this.config.scheduler.shutdownGraceMs);
    await this.webSocket?.stop();
    await this.mqtt?.stop();
    await this.embeddedBroker?.stop();
    await this.backend?.unload();
    this.state = "stopped";
    this.log.info({ component: "daemon", stats: this.scheduler?.stats() }, "stopped");
  }

  health(): { ready: boolean } & Record<string, unknown> {
    const info = this.state === "serving" ? this.backend?.info() : undefined;
    return {
      ready: this.state === "serving",
      state: this.state,
      backend: info?.kind ?? null,
      model: info?.modelPath ?? null,
      uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
      queue: this.scheduler?.stats() ?? null,
    };
  }

  /** The MQTT address in use once started (the embedded broker's when mqtt.url is empty). */
  get mqttUrl(): string | undefined {
    return this.mqttBrokerUrl;
  }
  private mqttBrokerUrl: string | undefined;

  private async startMqtt(scheduler: Scheduler, limits: ProtocolLimits): Promise<void> {
    const { mqtt, limits: configuredLimits } = this.config;
    const log = this.log.child({ component: "mqtt" });
    let url = mqtt.url;
    let protocolVersion = mqtt.protocolVersion;
    let fleet = mqtt.fleet;
    const password = mqtt.password || readSecretFile(mqtt.passwordFile);
    if (url.length === 0) {
      assertTokenWhenExposed("mqtt.embeddedHost", mqtt.embeddedHost, "mqtt.username", mqtt.username);
      this.embeddedBroker = new EmbeddedBroker({
        host: mqtt.embeddedHost,
        port: mqtt.embeddedPort,
        username: mqtt.username,
        password,
      });
      await this.embeddedBroker.start();
      url = this.embeddedBroker.url;
      if (protocolVersion === 5 || fleet)
        log.info(
          { url },
          "embedded broker started; it speaks MQTT 3.1.1 only, so replies use reply_to and fleet sharing is off (set mqtt.url to a Mosquitto for MQTT 5)",
        );
      protocolVersion = 4;
      fleet = false;
    }
    this.mqttBrokerUrl = url;
    const stateDirectory = resolveStateDirectory(this.config.state.directory);
    const journal = new RequestJournal(
      join(stateDirectory, `mqtt-journal-${mqtt.nodeId}.jsonl`),
      mqtt.dedupeWindowSeconds * 1000,
    );
    this.mqtt = new MqttTransport({
      url,
      protocolVersion,
      nodeId: mqtt.nodeId,
      baseTopic: mqtt.baseTopic,
      username: mqtt.username,
      password,
      ca: readOptionalFile(mqtt.caFile),
      cert: readOptionalFile(mqtt.certFile),
      key: readOptionalFile(mqtt.keyFile),
      sessionExpirySeconds: mqtt.sessionExpirySeconds,
      tokenQos: mqtt.tokenQos,
      statusIntervalMs: mqtt.statusIntervalMs,
      fleet,
      fleetGroup: mqtt.fleetGroup,
      maxMessageBytes: configuredLimits.maxMessageBytes,
      limits,
      scheduler,
      journal,
      log,
      status: () => {
        const info = this.backend?.info();
        return {
          version: packageVersion(),
          model: info ? basename(info.modelPath) : null,
          backend: info?.kind ?? null,
          threads: info?.threads ?? null,
        };
      },
    });
    await this.mqtt.start();
  }

  private createBackend(): Backend {
    const onLog = (level: "warn" | "error", message: string) => this.log[level]({ component: "llama.cpp" }, message);
    switch (this.config.backend.kind) {
      case "auto":
      case "cpu":
        return new LlamaCppBackend({ kind: "cpu", onLog });
      case "vulkan":
        return new LlamaCppBackend({ kind: "vulkan", onLog });
      case "npu":
        throw new Error("backend.kind=npu: the RKLLM NPU backend is not part of this build yet");
    }
  }
}
