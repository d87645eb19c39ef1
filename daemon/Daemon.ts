/**
 * Wires the parts of a running tinyllamad together and owns their order of start and stop:
 * backend (model loaded) → scheduler → transports; and the reverse on the way down.
 */
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import type { Backend } from "../hal/backends/Backend.js";
import { LlamaCppBackend } from "../hal/backends/llamaCpp/LlamaCppBackend.js";
import { ModelMissingError, resolveModelPath } from "../models/store/defaultModelLocation.js";
import type { TinyllamadConfig } from "./config/configSchema.js";
import type { Logger } from "./logging/createLogger.js";
import type { ProtocolLimits } from "./protocol/parseClientMessage.js";
import { Scheduler } from "./scheduler/Scheduler.js";
import { assertTokenWhenExposed } from "./transports/transportSecurity.js";
import { WebSocketTransport } from "./transports/websocket/WebSocketTransport.js";

export type DaemonState = "idle" | "loading" | "serving" | "stopping" | "stopped";

export class Daemon {
  private state: DaemonState = "idle";
  private backend: Backend | undefined;
  private scheduler: Scheduler | undefined;
  private webSocket: WebSocketTransport | undefined;
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

    if (config.ws.enabled) {
      const limits: ProtocolLimits = {
        maxPromptChars: config.limits.maxPromptChars,
        defaultMaxTokens: config.limits.defaultMaxTokens,
        maxMaxTokens: config.limits.maxMaxTokens,
      };
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
    this.log.info({ component: "daemon" }, "serving");
  }

  /** Stops accepting, lets in-flight work finish within the grace period, then releases everything. */
  async stop(): Promise<void> {
    if (this.state === "stopping" || this.state === "stopped") return;
    this.state = "stopping";
    this.log.info({ component: "daemon", graceMs: this.config.scheduler.shutdownGraceMs }, "stopping");
    this.webSocket?.stopAccepting();
    await this.scheduler?.stop(this.config.scheduler.shutdownGraceMs);
    await this.webSocket?.stop();
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
