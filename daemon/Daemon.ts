/**
 * Wires the parts of a running tinyllamad together and owns their order of start and stop:
 * HTTP (health) → backend (model loaded) → scheduler → transports → READY; and the reverse on the
 * way down. It also tells systemd what is going on and answers SIGHUP reloads.
 */
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { basename, join } from "node:path";
import type { Backend } from "../hal/backends/Backend.js";
import { LlamaCppBackend } from "../hal/backends/llamaCpp/LlamaCppBackend.js";
import { RkllmBackend } from "../hal/backends/rkllm/RkllmBackend.js";
import { ModelMissingError, resolveModelPath } from "../models/store/defaultModelLocation.js";
import type { TinyllamadConfig } from "./config/configSchema.js";
import { componentLogger, type Logger, type LogLevel, parseComponentLevels } from "./logging/createLogger.js";
import { DaemonMetrics } from "./metrics/DaemonMetrics.js";
import { packageVersion } from "./packageVersion.js";
import type { ProtocolLimits } from "./protocol/parseClientMessage.js";
import { Scheduler } from "./scheduler/Scheduler.js";
import { resolveStateDirectory } from "./stateDirectory.js";
import { ServiceNotifier } from "./systemd/ServiceNotifier.js";
import { HttpServer, sendJson } from "./transports/http/HttpServer.js";
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

/** Settings a SIGHUP applies without a restart. */
const reloadableKeys = new Set([
  "log.level",
  "log.prompts",
  "limits.defaultMaxTokens",
  "limits.maxMaxTokens",
  "limits.maxPromptChars",
  "scheduler.maxQueue",
  "scheduler.shutdownGraceMs",
]);

export type DaemonState = "idle" | "loading" | "serving" | "reloading" | "stopping" | "stopped";

export class Daemon {
  private state: DaemonState = "idle";
  private backend: Backend | undefined;
  private scheduler: Scheduler | undefined;
  private http: HttpServer | undefined;
  private webSocket: WebSocketTransport | undefined;
  private mqtt: MqttTransport | undefined;
  private embeddedBroker: EmbeddedBroker | undefined;
  private readonly startedAt = Date.now();
  private readonly metrics = new DaemonMetrics();
  private readonly notifier: ServiceNotifier;
  private readonly limits: ProtocolLimits;
  private statusTimer: NodeJS.Timeout | undefined;
  private recentRates: number[] = [];
  private componentLevels: Map<string, LogLevel>;

  constructor(
    private config: TinyllamadConfig,
    private readonly log: Logger,
    options: { environment?: NodeJS.ProcessEnv } = {},
  ) {
    this.componentLevels = parseComponentLevels(config.log.componentLevels);
    this.limits = {
      maxPromptChars: config.limits.maxPromptChars,
      defaultMaxTokens: config.limits.defaultMaxTokens,
      maxMaxTokens: config.limits.maxMaxTokens,
    };
    this.notifier = new ServiceNotifier({
      environment: options.environment,
      isAlive: () => this.liveness(),
      log: this.logFor("systemd"),
    });
  }

  private logFor(component: string): Logger {
    return componentLogger(this.log, component, this.componentLevels);
  }

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
    if (config.backend.kind === "npu" && config.npu.modelPath.length === 0)
      throw new Error(
        "backend.kind=npu needs npu.modelPath: a .rkllm model converted with rkllm-toolkit (docs/npu.md)",
      );
    const modelPath = config.backend.kind === "npu" ? config.npu.modelPath : resolveModelPath(config.model.path);
    if (!existsSync(modelPath)) throw new ModelMissingError(modelPath);
    this.notifier.start();

    const http = new HttpServer(config.ws.host, config.ws.port);
    this.registerRoutes(http);
    await http.start();
    this.http = http;

    const backend = this.createBackend();
    const threads = config.backend.threads > 0 ? config.backend.threads : availableParallelism();
    this.log.info({ component: "backend", kind: backend.kind, modelPath, threads }, "loading model");
    this.notifier.loading(`loading model ${basename(modelPath)}`, 60_000);
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
          this.notifier.loading(`loading model ${basename(modelPath)} ${percent} %`, 60_000);
        }
      },
    });
    this.backend = backend;
    const info = backend.info();
    this.log.info({ component: "backend", ...info }, "model loaded");

    const scheduler = new Scheduler({
      backend,
      maxQueue: config.scheduler.maxQueue,
      concurrency: config.scheduler.parallelSequences,
      log: this.logFor("scheduler"),
      logPrompts: config.log.prompts,
    });
    scheduler.on("load", (stats) => {
      this.metrics.load(stats);
      this.scheduleStatus();
    });
    scheduler.on("finished", (message, { completionTokens }) => {
      this.metrics.requestFinished(message, completionTokens);
      if (message.type === "done" && message.timings.tokens_per_s !== null)
        this.recentRates = [...this.recentRates.slice(-9), message.timings.tokens_per_s];
      this.scheduleStatus();
    });
    scheduler.start();
    this.scheduler = scheduler;

    if (config.mqtt.enabled) await this.startMqtt(scheduler, this.limits);
    if (config.ws.enabled) {
      this.webSocket = new WebSocketTransport({
        http,
        host: config.ws.host,
        token: config.ws.token,
        maxMessageBytes: config.limits.maxMessageBytes,
        limits: this.limits,
        scheduler,
        log: this.logFor("websocket"),
      });
      this.webSocket.start();
    }
    this.state = "serving";
    this.metrics.serving(info.kind, basename(info.modelPath), packageVersion());
    this.notifier.ready(this.statusLine());
    this.log.info(
      {
        component: "daemon",
        websocket: this.webSocket?.address() ?? null,
        http: http.address() ?? null,
        mqtt: this.mqttBrokerUrl ?? null,
      },
      "serving",
    );
  }

  /**
   * SIGHUP: applies the settings that can change while serving and names those that need a restart.
   * (A changed model.path is applied by the model store's hot swap once that exists.)
   */
  reload(next: TinyllamadConfig): { applied: string[]; needRestart: string[] } {
    if (this.state !== "serving") return { applied: [], needRestart: [] };
    this.state = "reloading";
    this.notifier.reloading();
    const changed = changedKeys(this.config, next);
    const applied = changed.filter((key) => reloadableKeys.has(key));
    const needRestart = changed.filter((key) => !reloadableKeys.has(key));
    this.log.level = next.log.level;
    this.limits.maxPromptChars = next.limits.maxPromptChars;
    this.limits.defaultMaxTokens = next.limits.defaultMaxTokens;
    this.limits.maxMaxTokens = next.limits.maxMaxTokens;
    this.scheduler?.reconfigure({ maxQueue: next.scheduler.maxQueue, logPrompts: next.log.prompts });
    this.config = {
      ...this.config,
      log: next.log,
      limits: next.limits,
      scheduler: {
        ...this.config.scheduler,
        maxQueue: next.scheduler.maxQueue,
        shutdownGraceMs: next.scheduler.shutdownGraceMs,
      },
    };
    if (needRestart.length > 0)
      this.log.warn({ component: "daemon", keys: needRestart }, "these settings changed but need a restart to apply");
    this.log.info({ component: "daemon", applied }, "configuration reloaded");
    this.state = "serving";
    this.notifier.ready(this.statusLine());
    return { applied, needRestart };
  }

  /** Stops accepting, lets in-flight work finish within the grace period, then releases everything. */
  async stop(): Promise<void> {
    if (this.state === "stopping" || this.state === "stopped") return;
    this.state = "stopping";
    this.metrics.notReady();
    this.notifier.stopping();
    clearTimeout(this.statusTimer);
    this.log.info({ component: "daemon", graceMs: this.config.scheduler.shutdownGraceMs }, "stopping");
    this.webSocket?.stopAccepting();
    await this.mqtt?.stopAccepting();
    await this.scheduler?.stop(this.config.scheduler.shutdownGraceMs);
    await this.webSocket?.stop();
    await this.mqtt?.stop();
    await this.embeddedBroker?.stop();
    await this.http?.stop();
    await this.backend?.unload();
    this.notifier.stop();
    this.state = "stopped";
    this.log.info({ component: "daemon", stats: this.scheduler?.stats() }, "stopped");
  }

  /** A second SIGTERM: end the grace period now (running requests end with E_SHUTTING_DOWN). */
  cutShutdownShort(): void {
    this.scheduler?.endGracePeriod();
  }

  health(): { ready: boolean } & Record<string, unknown> {
    const info = this.state === "serving" ? this.backend?.info() : undefined;
    const liveness = this.liveness();
    return {
      ready: this.state === "serving",
      alive: liveness.alive,
      ...(liveness.reason ? { reason: liveness.reason } : {}),
      state: this.state,
      version: packageVersion(),
      backend: info?.kind ?? null,
      model: info ? basename(info.modelPath) : null,
      threads: info?.threads ?? null,
      uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
      queue: this.scheduler?.stats() ?? null,
    };
  }

  private liveness(): { alive: boolean; reason?: string } {
    const stalledFor = this.scheduler?.stalledForMs() ?? 0;
    if (stalledFor > this.config.scheduler.stallTimeoutMs)
      return { alive: false, reason: `generation made no progress for ${Math.round(stalledFor / 1000)} s` };
    return { alive: true };
  }

  private registerRoutes(http: HttpServer): void {
    http.get("/healthz", (_request, response) => {
      const health = this.health();
      sendJson(response, health.alive ? 200 : 503, { status: health.alive ? "ok" : "stalled", ...health });
    });
    http.get("/readyz", (_request, response) => {
      const health = this.health();
      sendJson(response, health.ready ? 200 : 503, { status: health.ready ? "ready" : health.state, ...health });
    });
    http.get("/metrics", async (_request, response) => {
      const body = await this.metrics.render();
      response.writeHead(200, { "content-type": this.metrics.contentType });
      response.end(body);
    });
  }

  /** One line for `systemctl status`: serving on cpu ×4, queue 3, 14.8 tok/s. */
  private statusLine(): string {
    const info = this.backend?.info();
    const stats = this.scheduler?.stats();
    if (!info || !stats) return this.state;
    const parts = [`serving on ${info.kind} ×${info.threads}`, `running ${stats.running}`, `queue ${stats.queued}`];
    if (this.recentRates.length > 0) {
      const mean = this.recentRates.reduce((a, b) => a + b, 0) / this.recentRates.length;
      parts.push(`${mean.toFixed(1)} tok/s`);
    }
    return parts.join(", ");
  }

  private scheduleStatus(): void {
    if (this.statusTimer || this.state !== "serving") return;
    this.statusTimer = setTimeout(() => {
      this.statusTimer = undefined;
      if (this.state === "serving") this.notifier.status(this.statusLine());
    }, 1000);
    this.statusTimer.unref();
  }

  /** The MQTT address in use once started (the embedded broker's when mqtt.url is empty). */
  get mqttUrl(): string | undefined {
    return this.mqttBrokerUrl;
  }
  private mqttBrokerUrl: string | undefined;

  private async startMqtt(scheduler: Scheduler, limits: ProtocolLimits): Promise<void> {
    const { mqtt, limits: configuredLimits } = this.config;
    const log = this.logFor("mqtt");
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
        return new RkllmBackend({ libraryPath: this.config.npu.libraryPath || undefined });
    }
  }
}

function changedKeys(before: TinyllamadConfig, after: TinyllamadConfig): string[] {
  const keys: string[] = [];
  const walk = (a: unknown, b: unknown, path: string) => {
    if (typeof a === "object" && a !== null && typeof b === "object" && b !== null) {
      for (const key of new Set([...Object.keys(a), ...Object.keys(b)]))
        walk((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], path ? `${path}.${key}` : key);
    } else if (a !== b) keys.push(path);
  };
  walk(before, after, "");
  return keys;
}
