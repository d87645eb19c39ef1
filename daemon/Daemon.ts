/**
 * The story of a running tinyllamad's start and stop. Start: check every plugin's settings → plan the
 * model (a missing or oversized one stops here, before anything listens) → scheduler → the
 * "before-model" plugins in their declared order (systemd, HTTP health, MQTT, WebSocket: the status
 * topic shows the pull and the load; requests get E_NOT_READY during a pull and wait during the load)
 * → the model pulled, calibrated, loaded (BackendManager) → the "after-model" plugins (thermal) →
 * serving. Stop, on SIGTERM: stop accepting (plugins in reverse) → the scheduler's grace period →
 * plugins stopped in reverse → the resident conversations saved to disk (at most another grace
 * period) → the model unloaded. SIGHUP applies the reloadable settings.
 *
 * The node's figures live in NodeStatus, the model and its backend in BackendManager, every transport
 * in a plugin (plugins/daemonPlugins.ts).
 */
import { existsSync } from "node:fs";
import { basename } from "node:path";
import { handleAdminRequest } from "./admin/handleAdminRequest.js";
import type { SwapOutcome } from "./admin/swapOutcome.js";
import { BackendManager, failureOf } from "./backends/BackendManager.js";
import { changedKeys } from "./config/changedKeys.js";
import type { TinyllamadConfig } from "./config/configSchema.js";
import { componentLogger, type Logger, type LogLevel, parseComponentLevels } from "./logging/createLogger.js";
import { DaemonMetrics } from "./metrics/DaemonMetrics.js";
import { type DaemonState, NodeStatus } from "./NodeStatus.js";
import type { DaemonContext, DaemonPlugin } from "./plugins/DaemonPlugin.js";
import { daemonPlugins } from "./plugins/daemonPlugins.js";
import type { ProtocolLimits } from "./protocol/parseClientMessage.js";
import { checkLiveness } from "./scheduler/checkLiveness.js";
import { Scheduler } from "./scheduler/Scheduler.js";

export { ModelTooLargeError } from "./backends/ModelTooLargeError.js";
export type { DaemonState } from "./NodeStatus.js";

/** Settings a SIGHUP applies without a restart (model.path starts a hot swap). */
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

export class Daemon {
  readonly status = new NodeStatus();
  readonly backends: BackendManager;
  private readonly metrics = new DaemonMetrics(this.status);
  private readonly startAbort = new AbortController();
  /** A second SIGTERM: ends the saving of resident sequence states at a stop too. */
  private readonly stopNow = new AbortController();
  private readonly limits: ProtocolLimits;
  private readonly componentLevels: Map<string, LogLevel>;
  private readonly started: DaemonPlugin[] = [];
  private scheduler: Scheduler | undefined;

  constructor(
    private config: TinyllamadConfig,
    private readonly log: Logger,
    private readonly options: {
      environment?: NodeJS.ProcessEnv;
      /** A fault found while serving that restarting cannot fix (another instance with this node id): the caller stops and exits 78. */
      onFatal?: (error: Error) => void;
      /** Rereads the configuration and applies it, as SIGHUP does (serve passes its SIGHUP handler). */
      reload?: () => void;
    } = {},
  ) {
    this.componentLevels = parseComponentLevels(config.log.componentLevels);
    const { maxPromptChars, defaultMaxTokens, maxMaxTokens } = config.limits;
    this.limits = { maxPromptChars, defaultMaxTokens, maxMaxTokens };
    this.backends = new BackendManager({
      config: () => this.config,
      logFor: (component) => this.logFor(component),
      status: this.status,
      signal: this.startAbort.signal,
      onDecodeBatch: (sequences) => this.metrics.decodeBatch(sequences),
      onSequenceState: (event) => this.metrics.sequenceState(event.kind, event.usedBytes),
    });
    this.status.readFrom({
      backend: () => this.backends.current?.info(),
      fallbacks: () => this.backends.fallbacks,
      calibration: () => this.backends.calibration,
      queue: () => this.scheduler?.stats(),
      nodeId: () => this.config.mqtt.nodeId,
      quantization: () => this.backends.quantization,
      plan: () => {
        const plan = this.backends.servingPlan;
        return plan && { reasons: plan.reasons, cores: plan.cpuList, candidates: plan.candidates };
      },
      liveness: () =>
        checkLiveness({
          scheduler: this.scheduler,
          stallTimeoutMs: this.config.scheduler.stallTimeoutMs,
          prefillTokensPerSecond: () => this.backends.expectedPrefillTokensPerSecond(),
        }),
    });
  }

  private logFor(component: string): Logger {
    return componentLogger(this.log, component, this.componentLevels);
  }

  get currentState(): DaemonState {
    return this.status.state;
  }

  async start(): Promise<void> {
    if (this.status.state !== "idle") throw new Error(`cannot start a daemon that is ${this.status.state}`);
    this.status.state = "loading";
    const { config } = this;
    const plugins = daemonPlugins().filter((plugin) => plugin.enabled?.(config) ?? true);
    for (const plugin of plugins) plugin.check?.(config);
    const modelPath = await this.backends.resolveModel(config.model.path);
    const pull =
      config.model.path === "" && !existsSync(modelPath) && config.model.pullOnStart && config.backend.kind !== "npu";
    // Without a pull, a missing or oversized model stops start-up before anything listens.
    const plan = pull ? undefined : await this.backends.checkModel(modelPath);
    const scheduler = this.createScheduler();
    if (pull) {
      this.status.state = "pulling";
      scheduler.setNotReady(`no model is loaded yet: the node is pulling ${basename(modelPath)}; retry later`);
    }
    const context = this.context(scheduler);
    await this.startPlugins(plugins, "before-model", context);
    try {
      if (pull) {
        await this.backends.pull(modelPath);
        this.status.state = "loading";
        scheduler.setNotReady(undefined);
      }
      const info = await this.backends.serveFirst(modelPath, plan);
      if (info === undefined) return; // stop() came first
      this.log.info({ component: "backend", ...info }, "model loaded");
    } catch (error) {
      if (this.startAbort.signal.aborted) return; // stop() came first and is shutting down
      this.status.progress.failed(basename(modelPath), failureOf(error));
      await this.stop();
      throw error;
    }
    await this.startPlugins(plugins, "after-model", context);
    this.status.state = "serving";
    const addresses = Object.fromEntries(this.started.map((plugin) => [plugin.name, plugin.address?.() ?? null]));
    const { websocket = null, http = null, mqtt = null } = addresses;
    this.log.info({ component: "daemon", websocket, http, mqtt }, "serving");
  }

  private async startPlugins(plugins: DaemonPlugin[], phase: DaemonPlugin["phase"], context: DaemonContext) {
    for (const plugin of plugins.filter((candidate) => candidate.phase === phase)) {
      if (this.startAbort.signal.aborted) return;
      this.started.push(plugin);
      await plugin.start(context);
    }
  }

  private context(scheduler: Scheduler): DaemonContext {
    return {
      config: () => this.config,
      limits: this.limits,
      scheduler,
      status: this.status,
      metrics: this.metrics,
      logFor: (component) => this.logFor(component),
      admin: (request) =>
        handleAdminRequest(request, {
          token: this.config.admin.token,
          log: this.logFor("daemon"),
          status: () => this.status.health(),
          swapModel: (path) => this.swapModel(path, "admin"),
        }),
      fatal: (error) => this.options.onFatal?.(error),
      reload: () => this.options.reload?.(),
      environment: this.options.environment ?? process.env,
      shared: {},
    };
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
    scheduler.on("load", () => this.status.figuresMoved());
    scheduler.on("finished", (message, { completionTokens }) => {
      this.metrics.requestFinished(message, completionTokens);
      if (message.type === "done" && message.timings.tokens_per_s !== null)
        this.status.recordRate(message.timings.tokens_per_s);
    });
    this.backends.attach(scheduler);
    scheduler.start();
    this.scheduler = scheduler;
    return scheduler;
  }

  /** Admin swap or SIGHUP model change; the configured model.path follows a swap that worked. */
  private async swapModel(nextPath: string, origin: "admin" | "reload"): Promise<SwapOutcome> {
    const outcome = await this.backends.swapTo(nextPath, origin);
    if (outcome.ok) {
      const path = origin === "admin" ? (outcome.path ?? nextPath) : nextPath;
      this.config = { ...this.config, model: { ...this.config.model, path } };
    }
    return outcome;
  }

  /**
   * SIGHUP: applies the settings that can change while serving and names those that need a restart.
   * A changed model.path starts a hot swap, which reports on its own.
   */
  reload(next: TinyllamadConfig): { applied: string[]; needRestart: string[] } {
    if (this.status.state !== "serving") return { applied: [], needRestart: [] };
    this.status.state = "reloading";
    const changed = changedKeys(this.config, next);
    const applied = changed.filter((key) => reloadableKeys.has(key) || key === "model.path");
    const needRestart = changed.filter((key) => !reloadableKeys.has(key) && key !== "model.path");
    this.log.level = next.log.level;
    Object.assign(this.limits, {
      maxPromptChars: next.limits.maxPromptChars,
      defaultMaxTokens: next.limits.defaultMaxTokens,
      maxMaxTokens: next.limits.maxMaxTokens,
    });
    const { maxQueue, maxQueueSharePerClient, shutdownGraceMs } = next.scheduler;
    this.scheduler?.reconfigure({ maxQueue, maxQueueSharePerClient, logPrompts: next.log.prompts });
    this.config = {
      ...this.config,
      log: next.log,
      limits: next.limits,
      scheduler: { ...this.config.scheduler, maxQueue, maxQueueSharePerClient, shutdownGraceMs },
    };
    if (needRestart.length > 0)
      this.log.warn({ component: "daemon", keys: needRestart }, "these settings changed but need a restart to apply");
    this.log.info({ component: "daemon", applied }, "configuration reloaded");
    this.status.state = "serving";
    if (changed.includes("model.path")) void this.swapModel(next.model.path, "reload");
    return { applied, needRestart };
  }

  /** Stops accepting, lets in-flight work finish within the grace period, then releases everything. */
  async stop(): Promise<void> {
    if (this.status.state === "stopping" || this.status.state === "stopped") return;
    this.status.state = "stopping";
    this.startAbort.abort();
    this.log.info({ component: "daemon", graceMs: this.config.scheduler.shutdownGraceMs }, "stopping");
    const reversed = [...this.started].reverse();
    for (const plugin of reversed) await plugin.stopAccepting?.();
    await this.scheduler?.stop(this.config.scheduler.shutdownGraceMs);
    for (const plugin of reversed) await plugin.stop();
    // The resident conversations are saved to disk within another grace period (TimeoutStopSec allows for both).
    const { shutdownGraceMs } = this.config.scheduler;
    await this.backends.unload(AbortSignal.any([AbortSignal.timeout(shutdownGraceMs), this.stopNow.signal]));
    this.status.state = "stopped";
    this.log.info({ component: "daemon", stats: this.scheduler?.stats() }, "stopped");
  }

  /**
   * A second SIGTERM: end the grace period now (running requests end with E_SHUTTING_DOWN), and the
   * saving of the resident sequence states.
   */
  cutShutdownShort(): void {
    this.stopNow.abort();
    this.scheduler?.endGracePeriod();
  }

  health(): ReturnType<NodeStatus["health"]> {
    return this.status.health();
  }
}
