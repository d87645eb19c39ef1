/**
 * Wires the parts of a running tinyllamad together and owns their order of start and stop:
 * HTTP (health) → scheduler → MQTT (status shows the pull and load) and WebSocket (requests get
 * E_NOT_READY during a pull and wait during the load) → model pulled and loaded → READY; and the
 * reverse on the way down. It also tells systemd what is going on and
 * answers SIGHUP reloads.
 */
import { createHash, randomUUID, timingSafeEqual } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, join } from "node:path";
import type { Backend, BackendKind } from "../hal/backends/Backend.js";
import { LlamaCppBackend } from "../hal/backends/llamaCpp/LlamaCppBackend.js";
import { probeVulkanDevices } from "../hal/backends/llamaCpp/probeVulkanDevices.js";
import { RkllmBackend } from "../hal/backends/rkllm/RkllmBackend.js";
import {
  type Calibration,
  CalibrationCache,
  calibrateBackends,
  calibrationKey,
} from "../hal/calibration/calibrateBackends.js";
import { expectedPrefillRate } from "../hal/plan/expectedPrefillRate.js";
import { type BackendPlan, planBackend } from "../hal/plan/planBackend.js";
import { type HardwareReport, probeHardware } from "../hal/probes/probeHardware.js";
import { defaultStoreDirectory, ModelMissingError, resolveModelPath } from "../models/store/defaultModelLocation.js";
import { assertGgufModelFile } from "./admin/assertGgufModelFile.js";
import { resolveSwapModelPath } from "./admin/resolveSwapModelPath.js";
import { settleWithin } from "./admin/settleWithin.js";
import { type SwapOutcome, swapFailure } from "./admin/swapOutcome.js";
import { type BoardDefaultModel, boardDefaultModel } from "./boardDefaultModel.js";
import type { TinyllamadConfig } from "./config/configSchema.js";
import { redactUrlCredentials } from "./config/redactUrlCredentials.js";
import { componentLogger, type Logger, type LogLevel, parseComponentLevels } from "./logging/createLogger.js";
import { ModelLoadError } from "./ModelLoadError.js";
import { ModelProgressTracker } from "./ModelProgressTracker.js";
import { DaemonMetrics } from "./metrics/DaemonMetrics.js";
import { packageVersion } from "./packageVersion.js";
import type { AdminRequest, ModelProgress, ServerMessage } from "./protocol/messages.js";
import type { ProtocolLimits } from "./protocol/parseClientMessage.js";
import { pullDefaultModel } from "./pullDefaultModel.js";
import { Scheduler } from "./scheduler/Scheduler.js";
import { stallLimitMs } from "./scheduler/stallLimitMs.js";
import { resolveStateDirectory } from "./stateDirectory.js";
import { ServiceNotifier } from "./systemd/ServiceNotifier.js";
import { ThermalGuard } from "./thermal/ThermalGuard.js";
import { HttpServer } from "./transports/http/HttpServer.js";
import { RequestOriginPolicy } from "./transports/http/RequestOriginPolicy.js";
import { registerHealthRoutes } from "./transports/http/registerHealthRoutes.js";
import { checkNodeIdFree } from "./transports/mqtt/checkNodeIdFree.js";
import { DeliveryLedger } from "./transports/mqtt/DeliveryLedger.js";
import { assertEmbeddedBrokerLogin, EmbeddedBroker } from "./transports/mqtt/EmbeddedBroker.js";
import { MqttTransport, type NodeStatusFigures } from "./transports/mqtt/MqttTransport.js";
import { nodeClientId, nodeTopics } from "./transports/mqtt/mqttTopics.js";
import { NodeIdentityGuard } from "./transports/mqtt/NodeIdentityGuard.js";
import { assertTokenWhenExposed } from "./transports/transportSecurity.js";
import { WebSocketTransport } from "./transports/websocket/WebSocketTransport.js";

/** The model cannot fit the board's memory even at the smallest context: start-up stops (exit 78). */
export class ModelTooLargeError extends Error {
  override readonly name = "ModelTooLargeError";
  readonly code = "E_MODEL_TOO_LARGE";
}

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
  "scheduler.maxQueueSharePerClient",
  "scheduler.shutdownGraceMs",
]);

export type DaemonState = "idle" | "pulling" | "loading" | "serving" | "reloading" | "stopping" | "stopped";

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
  private readonly modelProgress = new ModelProgressTracker();
  /** Aborted by stop(): a start-up still pulling or loading gives up instead of serving. */
  private readonly startAbort = new AbortController();
  private readonly notifier: ServiceNotifier;
  private readonly limits: ProtocolLimits;
  private statusTimer: NodeJS.Timeout | undefined;
  private recentRates: number[] = [];
  private componentLevels: Map<string, LogLevel>;

  constructor(
    private config: TinyllamadConfig,
    private readonly log: Logger,
    private readonly options: {
      environment?: NodeJS.ProcessEnv;
      /** A fault found while serving that restarting cannot fix (another instance with this node id): the caller stops and exits 78. */
      onFatal?: (error: Error) => void;
    } = {},
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
    if (config.mqtt.enabled && config.mqtt.url === "")
      assertEmbeddedBrokerLogin(
        config.mqtt.embeddedHost,
        config.mqtt.username,
        config.mqtt.password || readSecretFile(config.mqtt.passwordFile),
      );
    const modelPath = await this.resolveModel(config.model.path);
    const pull =
      config.model.path === "" && !existsSync(modelPath) && config.model.pullOnStart && config.backend.kind !== "npu";
    // Without a pull, a missing or oversized model stops start-up before anything listens.
    let plan = pull ? undefined : await this.checkModel(modelPath);
    this.notifier.start();
    this.modelProgress.on("change", (progress) => this.onModelProgress(progress));

    const http = new HttpServer({
      host: config.ws.host,
      port: config.ws.port,
      log: this.logFor("http"),
      // Every WebSocket, plus room for health checks and scrapes.
      maxSockets: config.ws.maxConnections + 64,
      policy: new RequestOriginPolicy({
        bindHost: config.ws.host,
        allowedHosts: config.http.allowedHosts,
        allowedOrigins: config.http.allowedOrigins,
      }),
    });
    registerHealthRoutes(http, {
      host: config.ws.host,
      token: config.ws.token,
      health: () => this.health(),
      metrics: this.metrics,
    });
    await http.start();
    this.http = http;

    // The scheduler, MQTT and the WebSocket API come up before the model, so the status topic shows
    // the pull and the load as they happen. Requests wait while the model loads (seconds); while it
    // is pulled (minutes) they are refused at once with E_NOT_READY.
    const scheduler = this.createScheduler();
    if (pull) {
      this.state = "pulling";
      scheduler.setNotReady(`no model is loaded yet: the node is pulling ${basename(modelPath)}; retry later`);
    }
    if (config.mqtt.enabled) await this.startMqtt(scheduler, this.limits);
    if (config.ws.enabled) {
      this.webSocket = new WebSocketTransport({
        http,
        host: config.ws.host,
        token: config.ws.token,
        maxMessageBytes: config.limits.maxMessageBytes,
        maxConnections: config.ws.maxConnections,
        idleTimeoutMs: config.ws.idleTimeoutMs,
        limits: this.limits,
        scheduler,
        log: this.logFor("websocket"),
        admin: (request) => this.handleAdmin(request),
      });
      this.webSocket.start();
    }
    let backend: Backend;
    try {
      if (pull) await this.pullFirstModel(modelPath, scheduler);
      plan ??= await this.checkModel(modelPath);
      this.fallbackChain = fallbackChain(plan);
      if (config.backend.kind === "auto" && config.hal.calibrate && plan.candidates.length > 1) {
        const calibration = await this.calibrate(plan, modelPath, false);
        this.fallbackChain = [calibration.chosen, ...this.fallbackChain.filter((kind) => kind !== calibration.chosen)];
      }
      backend = await this.loadModelAtStart(plan, modelPath);
    } catch (error) {
      if (this.startAbort.signal.aborted) return; // stop() came first and is shutting down
      this.modelProgress.failed(basename(modelPath), failureOf(error));
      await this.stop();
      throw error;
    }
    if (this.startAbort.signal.aborted) {
      await backend.unload();
      return;
    }
    this.backend = backend;
    const info = backend.info();
    this.log.info({ component: "backend", ...info }, "model loaded");
    await scheduler.swapBackend(backend, info.parallelSequences);

    this.thermal = new ThermalGuard({
      root: config.hal.root,
      limitCelsius: config.thermal.limitCelsius,
      pollMs: config.thermal.pollMs,
      setBatchPaused: (paused) => scheduler.setBatchPaused(paused),
      onReading: (report) => {
        this.metrics.temperatures(
          report.zones.filter((z) => z.celsius !== null).map((z) => ({ zone: z.type, celsius: z.celsius as number })),
        );
        this.scheduleStatus();
      },
      log: this.logFor("thermal"),
    });
    await this.thermal.start();
    this.state = "serving";
    this.modelProgress.ready(basename(info.modelPath));
    this.metrics.serving(info.kind, basename(info.modelPath), packageVersion());
    this.notifier.ready(this.statusLine());
    this.log.info(
      {
        component: "daemon",
        websocket: this.webSocket?.address() ?? null,
        http: http.address() ?? null,
        mqtt: this.mqttBrokerUrl === undefined ? null : redactUrlCredentials(this.mqttBrokerUrl),
      },
      "serving",
    );
  }

  /** Plans the backend for the model and refuses a model that is missing or cannot fit. */
  private async checkModel(modelPath: string): Promise<BackendPlan> {
    const plan = await this.planBackend(modelPath);
    if (plan.backend !== "npu" && !existsSync(modelPath)) throw new ModelMissingError(modelPath);
    const tooLarge = plan.reasons.find((reason) => reason.startsWith("warning:") && reason.includes("even context"));
    if (tooLarge)
      throw new ModelTooLargeError(
        `${basename(modelPath)} does not fit this board's memory: ${tooLarge.replace(/^warning: /, "")}. ` +
          "`tinyllamad doctor` lists the catalog models that fit.",
      );
    return plan;
  }

  /** First start without the default model: pull it, then let requests in to wait for the load. */
  private async pullFirstModel(modelPath: string, scheduler: Scheduler): Promise<void> {
    const model = basename(modelPath);
    if (!this.defaultModel) throw new ModelMissingError(modelPath);
    await pullDefaultModel({
      entry: this.defaultModel.entry,
      path: modelPath,
      mirrorUrl: this.config.model.mirrorUrl,
      allowUnverified: this.config.model.allowUnverified,
      log: this.logFor("models"),
      onProgress: (progress) => this.modelProgress.pulling(model, progress),
      signal: this.startAbort.signal,
    });
    this.state = "loading";
    scheduler.setNotReady(undefined);
  }

  /** Throttled model progress: the MQTT status, and systemd's STATUS while pulling. */
  private onModelProgress(progress: ModelProgress): void {
    if (progress.phase === "checking" || progress.phase === "downloading" || progress.phase === "verifying")
      this.notifier.loading(
        `pulling ${progress.model}: ${progress.phase}${progress.percent === null ? "" : ` ${progress.percent} %`}`,
        120_000,
      );
    this.mqtt?.publishStatus();
  }

  private createScheduler(): Scheduler {
    const { config } = this;
    const scheduler = new Scheduler({
      maxQueue: config.scheduler.maxQueue,
      maxQueueSharePerClient: config.scheduler.maxQueueSharePerClient,
      concurrency: 0,
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
    scheduler.on("backendFailed", (failed, error) => void this.fallBackAfterFailure(failed, error));
    scheduler.start();
    this.scheduler = scheduler;
    return scheduler;
  }

  /**
   * SIGHUP: applies the settings that can change while serving and names those that need a restart.
   * A changed model.path starts a hot swap (swapModel), which reports on its own.
   */
  reload(next: TinyllamadConfig): { applied: string[]; needRestart: string[] } {
    if (this.state !== "serving") return { applied: [], needRestart: [] };
    this.state = "reloading";
    this.notifier.reloading();
    const changed = changedKeys(this.config, next);
    const applied = changed.filter((key) => reloadableKeys.has(key) || key === "model.path");
    const needRestart = changed.filter((key) => !reloadableKeys.has(key) && key !== "model.path");
    if (changed.includes("model.path")) void this.swapModel(next.model.path, "reload");
    this.log.level = next.log.level;
    this.limits.maxPromptChars = next.limits.maxPromptChars;
    this.limits.defaultMaxTokens = next.limits.defaultMaxTokens;
    this.limits.maxMaxTokens = next.limits.maxMaxTokens;
    this.scheduler?.reconfigure({
      maxQueue: next.scheduler.maxQueue,
      maxQueueSharePerClient: next.scheduler.maxQueueSharePerClient,
      logPrompts: next.log.prompts,
    });
    this.config = {
      ...this.config,
      log: next.log,
      limits: next.limits,
      scheduler: {
        ...this.config.scheduler,
        maxQueue: next.scheduler.maxQueue,
        maxQueueSharePerClient: next.scheduler.maxQueueSharePerClient,
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
    this.startAbort.abort();
    this.metrics.notReady();
    this.notifier.stopping();
    clearTimeout(this.statusTimer);
    this.thermal?.stop();
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
      model_progress: this.modelProgress.current,
      version: packageVersion(),
      backend: info?.kind ?? null,
      model: info ? basename(info.modelPath) : null,
      threads: info?.threads ?? null,
      cpu_threadpool: info?.cpuThreadpool ?? null,
      fallbacks: this.fallbacks,
      calibration: this.calibration ?? null,
      temperature_celsius: this.thermal?.reading.celsius ?? null,
      thermal_pause: this.thermal?.reading.hot ?? false,
      throttled: this.thermal?.reading.throttled ?? false,
      uptime_s: Math.round((Date.now() - this.startedAt) / 1000),
      queue: this.scheduler?.stats() ?? null,
    };
  }

  private fallbackChain: BackendKind[] = [];
  private plan: BackendPlan | undefined;
  private readonly fallbacks: Array<{ from: BackendKind; reason: string }> = [];
  private swapping = false;
  private thermal: ThermalGuard | undefined;
  private hardware: HardwareReport | undefined;
  private calibration: Calibration | undefined;

  private defaultModel: BoardDefaultModel | undefined;

  /**
   * `model.path`, or when it is empty this board's default model (chosen once from the probed CPU and
   * memory, daemon/boardDefaultModel.ts), with its reasons logged.
   */
  private async resolveModel(configured: string): Promise<string> {
    if (configured.length > 0) return configured;
    if (!this.defaultModel) {
      const hardware = await probeHardware(this.config.hal.root);
      this.defaultModel = boardDefaultModel(hardware, this.config);
      this.log.info(
        {
          component: "models",
          model: this.defaultModel.entry.name,
          path: this.defaultModel.path,
          reasons: this.defaultModel.reasons,
        },
        "default model for this board",
      );
    }
    return this.defaultModel.path;
  }

  /** The same, synchronously, once start() has chosen (before that: the catalog's own default file). */
  private modelPathNow(configured: string): string {
    return configured.length > 0 ? configured : (this.defaultModel?.path ?? resolveModelPath(""));
  }

  /** Probes the board and plans the backend (config can force any choice); logs every reason. */
  private async planBackend(modelPath: string): Promise<BackendPlan> {
    const { config } = this;
    const wantVulkan =
      config.backend.kind === "vulkan" ||
      (config.backend.kind === "auto" && (existsSync("/dev/dri") || existsSync("/dev/nvidiactl")));
    const hardware = await probeHardware(config.hal.root, {
      vulkan: wantVulkan ? await probeVulkanDevices() : undefined,
      npuLibraryPaths: config.npu.libraryPath ? [config.npu.libraryPath] : [],
    });
    const rkllm = config.npu.modelPath;
    const plan = planBackend(
      hardware,
      {
        format: "gguf",
        path: modelPath,
        fileBytes: existsSync(modelPath) ? statSync(modelPath).size : 0,
        rkllmPath: rkllm && existsSync(rkllm) ? rkllm : undefined,
        rkllmFileBytes: rkllm && existsSync(rkllm) ? statSync(rkllm).size : undefined,
      },
      {
        backend: config.backend.kind,
        threads: config.backend.threads,
        contextSize: config.model.contextSize,
        parallelSequences: config.scheduler.parallelSequences,
        kvCacheType: config.backend.kvCacheType,
        batchSize: config.backend.batchSize,
      },
    );
    this.plan = plan;
    this.hardware = hardware;
    this.log.info(
      {
        component: "hal",
        board: hardware.board.model,
        backend: plan.backend,
        threads: plan.threads,
        cpus: plan.cpuList,
        contextSize: plan.contextSize,
        parallelSequences: plan.parallelSequences,
        kvCacheType: plan.kvCacheType,
        batchSize: plan.batchSize,
        candidates: plan.candidates,
        reasons: plan.reasons,
      },
      "backend plan",
    );
    return plan;
  }

  /** `tinyllamad doctor --recalibrate`: plans, then measures every viable backend again (no serving). */
  async recalibrate(): Promise<{ plan: BackendPlan; calibration: Calibration | null }> {
    const modelPath = await this.resolveModel(this.config.model.path);
    const plan = await this.planBackend(modelPath);
    if (plan.candidates.length < 2) return { plan, calibration: null };
    return { plan, calibration: await this.calibrate(plan, modelPath, true) };
  }

  /** Uses the cached calibration for this board, model and runtime, or measures every candidate once. */
  async calibrate(plan: BackendPlan, modelPath: string, force: boolean): Promise<Calibration> {
    const log = this.logFor("hal");
    const cache = new CalibrationCache(join(resolveStateDirectory(this.config.state.directory), "calibration.json"));
    const key = calibrationKey({
      board: this.hardware?.board.model ?? this.hardware?.board.displayName ?? "unknown",
      cpu: this.hardware?.cpu.modelName ?? "unknown",
      files: [modelPath, this.config.npu.modelPath, this.config.npu.libraryPath].filter(Boolean),
      runtimes: [
        `node-llama-cpp@${nodeLlamaCppVersion()}`,
        `tinyllamad@${packageVersion()}`,
        plan.candidates.join(","),
      ],
    });
    const cached = force ? undefined : cache.get(key);
    if (cached) {
      log.info({ chosen: cached.chosen, results: cached.results, measuredAt: cached.measuredAt }, "calibration cached");
      this.calibration = cached;
      return cached;
    }
    log.info({ candidates: plan.candidates }, "calibrating: measuring each viable backend once");
    this.notifier.loading(`calibrating ${plan.candidates.join(" vs ")}`, 120_000);
    const calibration = await calibrateBackends(plan.candidates, (kind) => this.loadBackend(kind, plan, modelPath));
    try {
      cache.set(key, calibration);
    } catch (error) {
      // A full or read-only state directory costs only the cache: calibration runs again next start.
      log.warn({ err: (error as NodeJS.ErrnoException).code ?? String(error) }, "could not cache the calibration");
    }
    log.info({ chosen: calibration.chosen, results: calibration.results }, "calibration done");
    this.calibration = calibration;
    return calibration;
  }

  /**
   * The first load: a file that is not GGUF, or that no backend can load, is a ModelLoadError (exit
   * 78, no retry) naming llama.cpp's reason. The magic is checked here first because
   * node-llama-cpp's own magic error quotes the file's bytes.
   */
  private async loadModelAtStart(plan: BackendPlan, modelPath: string): Promise<Backend> {
    if (plan.backend !== "npu") {
      await assertGgufModelFile(modelPath).catch(() => {
        throw new ModelLoadError(modelPath, "it does not start with the GGUF magic, or it is not a regular file");
      });
    }
    try {
      return await this.loadFirstWorkingBackend(plan, modelPath);
    } catch (error) {
      if (error instanceof ModelMissingError || this.startAbort.signal.aborted) throw error;
      throw new ModelLoadError(modelPath, (error as Error).message ?? String(error));
    }
  }

  /** Loads the planned backend; when it fails, the next one down the chain (npu → vulkan → cpu). */
  private async loadFirstWorkingBackend(plan: BackendPlan, modelPath: string): Promise<Backend> {
    let lastError: unknown;
    for (const kind of this.fallbackChain) {
      try {
        return await this.loadBackend(kind, plan, modelPath);
      } catch (error) {
        lastError = error;
        if (error instanceof ModelMissingError) throw error;
        const reason = (error as Error).message.split("\n")[0] ?? String(error);
        this.fallbacks.push({ from: kind, reason });
        this.log.warn({ component: "backend", backend: kind, reason }, "backend failed to load; falling back");
      }
    }
    throw lastError;
  }

  private async loadBackend(kind: BackendKind, plan: BackendPlan, ggufPath: string): Promise<Backend> {
    const { config } = this;
    const modelPath = kind === "npu" ? config.npu.modelPath : ggufPath;
    if (kind === "npu" && modelPath.length === 0) throw new Error("npu.modelPath is empty: no .rkllm model");
    if (kind !== "npu" && !existsSync(modelPath)) throw new ModelMissingError(modelPath);
    const backend = this.createBackend(kind);
    this.log.info({ component: "backend", kind, modelPath, threads: plan.threads }, "loading model");
    this.notifier.loading(`loading model ${basename(modelPath)} on ${kind}`, 60_000);
    this.modelProgress.loading(basename(modelPath), 0);
    let lastReported = -1;
    await backend.load({
      modelPath,
      contextSize: plan.contextSize,
      parallelSequences: plan.parallelSequences,
      kvCacheType: plan.kvCacheType,
      batchSize: plan.batchSize,
      threads: plan.threads,
      onProgress: (fraction) => {
        this.modelProgress.loading(basename(modelPath), fraction);
        const percent = Math.floor(fraction * 10) * 10;
        if (percent > lastReported) {
          lastReported = percent;
          this.notifier.loading(`loading model ${basename(modelPath)} on ${kind} ${percent} %`, 60_000);
        }
      },
    });
    return backend;
  }

  /**
   * Hot swap: loads the new model beside the old one, sends new requests to it, lets in-flight ones
   * finish on the old one, then frees it. A model that fails to load, or does not load within
   * admin.swapTimeoutMs, leaves the old one serving and the next swap free to start.
   */
  private async swapModel(nextPath: string, origin: "admin" | "reload"): Promise<SwapOutcome> {
    const current = this.backend;
    const plan = this.plan;
    if (!current || !plan) return { ok: false, code: "E_NOT_READY", error: "not serving" };
    if (this.swapping) return { ok: false, code: "E_BACKEND", error: "a swap or fallback is already in progress" };
    if (current.kind === "npu") {
      this.log.warn(
        { component: "models" },
        "model.path changed, but the NPU backend runs npu.modelPath: restart to change it",
      );
      return { ok: false, code: "E_BACKEND", error: "the NPU backend runs npu.modelPath: restart to change it" };
    }
    this.swapping = true;
    const timeoutMs = this.config.admin.swapTimeoutMs;
    try {
      const prepared = await settleWithin(this.prepareSwap(current, plan, nextPath, origin), timeoutMs, (late) => {
        this.log.warn({ component: "models", model: late.path }, "a timed-out swap loaded late; freeing it");
        late.backend.unload().catch(() => {});
      });
      if (!prepared.done) {
        this.log.error({ component: "models", timeoutMs }, "the model swap timed out; the old model keeps serving");
        return {
          ok: false,
          code: "E_TIMEOUT",
          error: `the new model did not load within admin.swapTimeoutMs (${timeoutMs} ms); the old one keeps serving`,
        };
      }
      const { backend: replacement, path } = prepared.value;
      if (this.state === "stopping" || this.state === "stopped") {
        await replacement.unload();
        return { ok: false, code: "E_SHUTTING_DOWN", error: "the daemon is stopping" };
      }
      this.backend = replacement;
      this.config = { ...this.config, model: { ...this.config.model, path: origin === "admin" ? path : nextPath } };
      const info = replacement.info();
      this.metrics.serving(info.kind, basename(info.modelPath), packageVersion());
      // New requests go to the new model at once; the old one is freed once its last request ends.
      const swapped = this.scheduler?.swapBackend(replacement, info.parallelSequences);
      this.modelProgress.ready(basename(path));
      await (await swapped)?.unload();
      this.log.info({ component: "models", model: basename(path) }, "model swapped");
      this.notifier.status(this.statusLine());
      return { ok: true, model: basename(path) };
    } catch (error) {
      this.modelProgress.failed(basename(nextPath), failureOf(error));
      const reason = (error as Error).message.split("\n")[0] ?? String(error);
      this.log.error(
        { component: "models", model: nextPath, err: reason },
        "the new model failed to load; the old one keeps serving",
      );
      return swapFailure(error, reason);
    } finally {
      this.swapping = false;
    }
  }

  /** Checks the file (before anything opens it) and the fit, then loads it beside the current model. */
  private async prepareSwap(
    current: Backend,
    plan: BackendPlan,
    nextPath: string,
    origin: "admin" | "reload",
  ): Promise<{ backend: Backend; path: string }> {
    // The operator's own config may name any file; a request may name only the store and admin.modelDirectories.
    const path =
      origin === "admin"
        ? await resolveSwapModelPath(nextPath, {
            storeDirectory: defaultStoreDirectory(),
            modelDirectories: this.config.admin.modelDirectories,
          })
        : this.modelPathNow(nextPath);
    await assertGgufModelFile(path);
    this.log.info({ component: "models", from: current.info().modelPath, to: path }, "swapping the model");
    // A model that cannot fit the board is refused before anything is loaded.
    await this.checkModel(path);
    return { backend: await this.loadBackend(current.kind, plan, path), path };
  }

  /** Operator requests over WebSocket or MQTT, authorised by admin.token. */
  private async handleAdmin(request: AdminRequest): Promise<ServerMessage> {
    const expected = this.config.admin.token;
    const digest = (value: string) => createHash("sha256").update(value).digest();
    if (expected.length === 0 || !timingSafeEqual(digest(request.token), digest(expected))) {
      this.log.warn({ component: "daemon", id: request.id, action: request.action }, "admin request refused");
      return {
        type: "error",
        id: request.id,
        error: {
          code: "E_UNAUTHORIZED",
          message: expected.length === 0 ? "admin requests are disabled (admin.token is not set)" : "wrong admin token",
        },
      };
    }
    if (request.action === "status")
      return { type: "admin_result", id: request.id, action: "status", result: this.health() };
    const outcome = await this.swapModel(request.model_path ?? "", "admin");
    if (!outcome.ok)
      return {
        type: "error",
        id: request.id,
        error: { code: outcome.code, message: `model swap failed: ${outcome.error}` },
      };
    return { type: "admin_result", id: request.id, action: "swap_model", result: { model: outcome.model } };
  }

  /** A backend that failed mid-run is replaced by the next one down the chain; in-flight work already ended. */
  private async fallBackAfterFailure(failed: Backend, error: unknown): Promise<void> {
    if (this.swapping || this.state !== "serving" || failed !== this.backend || !this.plan) return;
    const index = this.fallbackChain.indexOf(failed.kind);
    const next = this.fallbackChain[index + 1];
    if (next === undefined) return;
    this.swapping = true;
    const reason = (error as Error)?.message?.split("\n")[0] ?? String(error);
    this.fallbacks.push({ from: failed.kind, reason });
    this.log.warn(
      { component: "backend", backend: failed.kind, next, reason },
      "backend failed while serving; falling back",
    );
    try {
      const replacement = await this.loadBackend(next, this.plan, this.modelPathNow(this.config.model.path));
      this.backend = replacement;
      const info = replacement.info();
      this.metrics.serving(info.kind, basename(info.modelPath), packageVersion());
      const swapped = this.scheduler?.swapBackend(replacement, info.parallelSequences);
      this.modelProgress.ready(basename(info.modelPath));
      await (await swapped)?.unload();
      this.log.info({ component: "backend", ...info }, "now serving on the fallback backend");
      this.notifier.status(this.statusLine());
    } catch (loadError) {
      this.modelProgress.failed(basename(this.modelPathNow(this.config.model.path)), failureOf(loadError));
      this.log.error(
        { component: "backend", next, err: (loadError as Error).message },
        "fallback backend failed to load",
      );
    } finally {
      this.swapping = false;
    }
  }

  private liveness(): { alive: boolean; reason?: string } {
    const stalledFor = this.scheduler?.stalledForMs() ?? 0;
    if (stalledFor <= this.config.scheduler.stallTimeoutMs) return { alive: true };
    // Past the plain limit: a long prompt chunk (or a slow decode step) in flight may be within its own.
    const limit = stallLimitMs({
      stallTimeoutMs: this.config.scheduler.stallTimeoutMs,
      tokensInFlight: this.scheduler?.tokensInFlight() ?? 0,
      prefillTokensPerSecond: this.expectedPrefillTokensPerSecond(),
    });
    if (stalledFor > limit)
      return { alive: false, reason: `generation made no progress for ${Math.round(stalledFor / 1000)} s` };
    return { alive: true };
  }

  private prefillRate: { key: string; tokensPerSecond: number | null } | undefined;

  /** scheduler.prefillTokensPerSecond, else the estimate for the backend serving now (cached per model). */
  private expectedPrefillTokensPerSecond(): number | null {
    if (this.config.scheduler.prefillTokensPerSecond > 0) return this.config.scheduler.prefillTokensPerSecond;
    let info: ReturnType<Backend["info"]> | undefined;
    try {
      info = this.backend?.info();
    } catch {
      return null; // unloaded (stopping): nothing runs on it
    }
    if (info === undefined) return null;
    const key = `${info.kind}:${info.modelPath}`;
    if (this.prefillRate?.key !== key) {
      const modelBytes = existsSync(info.modelPath) ? statSync(info.modelPath).size : 0;
      const board = this.hardware?.board.id ?? "generic-unknown";
      this.prefillRate = { key, tokensPerSecond: expectedPrefillRate(board, info.kind, modelBytes).tokensPerSecond };
    }
    return this.prefillRate.tokensPerSecond;
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
    const thermal = this.thermal?.reading;
    if (thermal?.celsius != null) parts.push(`${thermal.celsius.toFixed(0)} °C`);
    if (thermal?.hot) parts.push("hot: batch work paused");
    if (thermal?.throttled) parts.push("throttled");
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
    let login = { username: mqtt.username, password };
    if (url.length === 0) {
      this.embeddedBroker = new EmbeddedBroker({
        host: mqtt.embeddedHost,
        port: mqtt.embeddedPort,
        username: mqtt.username,
        password,
        ownClientId: nodeClientId(mqtt.nodeId),
        ownTopics: nodeTopics(mqtt.baseTopic, mqtt.nodeId),
      });
      await this.embeddedBroker.start();
      url = this.embeddedBroker.url;
      // The node logs in to its own broker with the login only it knows (see EmbeddedBroker).
      login = this.embeddedBroker.ownLogin;
      if (protocolVersion === 5 || fleet)
        log.info(
          { url },
          "embedded broker started; it speaks MQTT 3.1.1 only, so replies use reply_to and fleet sharing is off (set mqtt.url to a Mosquitto for MQTT 5)",
        );
      protocolVersion = 4;
      fleet = false;
    }
    this.mqttBrokerUrl = url;
    // Before the journal or the node's own session is touched: a second instance of this node id stops here.
    const instance = { id: randomUUID(), startedAt: new Date(this.startedAt).toISOString() };
    const statusTopic = nodeTopics(mqtt.baseTopic, mqtt.nodeId).status;
    const tls = {
      ca: readOptionalFile(mqtt.caFile),
      cert: readOptionalFile(mqtt.certFile),
      key: readOptionalFile(mqtt.keyFile),
    };
    const { staleInstance } =
      this.embeddedBroker === undefined
        ? await checkNodeIdFree({
            url,
            clientOptions: {
              protocolVersion,
              username: login.username || undefined,
              password: login.password || undefined,
              ...tls,
            },
            probeClientId: `${nodeClientId(mqtt.nodeId)}_probe_${instance.id.slice(0, 8)}`,
            nodeId: mqtt.nodeId,
            statusTopic,
            statusIntervalMs: mqtt.statusIntervalMs,
            log,
          })
        : { staleInstance: undefined }; // the embedded broker is this node's alone and reserves its client id
    const identityGuard = new NodeIdentityGuard({
      nodeId: mqtt.nodeId,
      statusTopic,
      instanceId: instance.id,
      startedAt: instance.startedAt,
      staleInstance,
      log,
      onConflict: (error) => this.options.onFatal?.(error),
    });
    const stateDirectory = resolveStateDirectory(this.config.state.directory);
    const ledger = new DeliveryLedger({
      path: join(stateDirectory, "mqtt", `ledger-${mqtt.nodeId}.jsonl`),
      legacyPath: join(stateDirectory, `mqtt-journal-${mqtt.nodeId}.jsonl`),
      dedupeWindowMs: mqtt.dedupeWindowSeconds * 1000,
      maxBytes: mqtt.journalMaxBytes,
      log,
    });
    this.mqtt = new MqttTransport({
      url,
      protocolVersion,
      nodeId: mqtt.nodeId,
      baseTopic: mqtt.baseTopic,
      username: login.username,
      password: login.password,
      ...tls,
      instance,
      watchClient: (client) => identityGuard.watch(client),
      sessionExpirySeconds: mqtt.sessionExpirySeconds,
      tokenQos: mqtt.tokenQos,
      statusIntervalMs: mqtt.statusIntervalMs,
      fleet,
      fleetGroup: mqtt.fleetGroup,
      // Fleet requests held beyond the queue: as many as the queue itself takes (at least one).
      fleetReceiveMaximum: Math.max(1, this.config.scheduler.maxQueue),
      maxMessageBytes: configuredLimits.maxMessageBytes,
      limits,
      scheduler,
      ledger,
      log,
      onDegradedChange: (degraded) => this.metrics.setMqttLedgerDegraded(degraded),
      admin: (request) => this.handleAdmin(request),
      status: (): NodeStatusFigures => {
        const state = this.state === "pulling" || this.state === "loading" ? this.state : "online";
        const info = state === "online" ? this.backend?.info() : undefined;
        return {
          state,
          version: packageVersion(),
          model: info ? basename(info.modelPath) : null,
          backend: info?.kind ?? null,
          threads: info?.threads ?? null,
          tokens_per_s:
            this.recentRates.length > 0
              ? Math.round((this.recentRates.reduce((a, b) => a + b, 0) / this.recentRates.length) * 10) / 10
              : null,
          temperature_celsius: this.thermal?.reading.celsius ?? null,
          thermal_pause: this.thermal?.reading.hot ?? false,
          throttled: this.thermal?.reading.throttled ?? false,
          fallbacks: this.fallbacks.length,
          model_progress: this.modelProgress.current,
        };
      },
    });
    await this.mqtt.start();
  }

  private createBackend(kind: BackendKind): Backend {
    const onLog = (level: "warn" | "error", message: string) => this.log[level]({ component: "llama.cpp" }, message);
    const { persistentThreadpool, flashAttention, useMmap, prefixReuse } = this.config.backend;
    switch (kind) {
      case "cpu":
      case "vulkan":
        return new LlamaCppBackend({
          kind,
          onLog,
          persistentThreadpool,
          flashAttention,
          useMmap,
          prefixReuse,
          onDecodeBatch: (sequences) => this.metrics.decodeBatch(sequences),
          prefillChunkTokens: this.config.backend.prefillChunkTokens,
        });
      case "npu":
        return new RkllmBackend({ libraryPath: this.config.npu.libraryPath || undefined });
    }
  }
}

/** A failure as the status topic's model_progress reports it. */
function failureOf(error: unknown): { code: string; message: string } {
  const code = (error as { code?: unknown })?.code;
  return {
    code: typeof code === "string" && code.startsWith("E_") ? code : "E_BACKEND",
    message: error instanceof Error ? error.message : String(error),
  };
}

function changedKeys(before: TinyllamadConfig, after: TinyllamadConfig): string[] {
  const keys: string[] = [];
  const walk = (a: unknown, b: unknown, path: string) => {
    // A list (http.allowedHosts) is one setting: compared whole, not item by item.
    if (Array.isArray(a) || Array.isArray(b)) {
      if (JSON.stringify(a) !== JSON.stringify(b)) keys.push(path);
    } else if (typeof a === "object" && a !== null && typeof b === "object" && b !== null) {
      for (const key of new Set([...Object.keys(a), ...Object.keys(b)]))
        walk((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], path ? `${path}.${key}` : key);
    } else if (a !== b) keys.push(path);
  };
  walk(before, after, "");
  return keys;
}

/** The planned backend first, then the ones below it that can serve: npu → vulkan → cpu. */
function fallbackChain(plan: BackendPlan): BackendKind[] {
  const order: BackendKind[] = ["npu", "vulkan", "cpu"];
  const start = order.indexOf(plan.backend);
  return order.slice(start).filter((kind) => kind === plan.backend || kind === "cpu" || plan.candidates.includes(kind));
}

function nodeLlamaCppVersion(): string {
  try {
    const entry = createRequire(import.meta.url).resolve("node-llama-cpp");
    const manifest = join(
      entry.slice(0, entry.lastIndexOf("node-llama-cpp") + "node-llama-cpp".length),
      "package.json",
    );
    return (JSON.parse(readFileSync(manifest, "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}
