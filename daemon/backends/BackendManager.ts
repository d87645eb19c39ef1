/**
 * Owns the model and the backend that runs it: plan → calibrate → load → fallback chain → swap.
 *
 * Start, a fallback after a backend failure, a SIGHUP model change and the admin swap all go through
 * one path, `replace`: load the new backend, hand it to the scheduler, free the old one once its last
 * request ends. Swaps are memory-aware: when the old and the new model do not fit the board's memory
 * together (their estimates against the memory available before the first load), the old one is
 * drained and unloaded first, requests wait in the queue, and NodeStatus says so (`swap`); if the new
 * one then fails, the old one is loaded again.
 *
 * Decisions read typed results (`plan.memory.kind === "too-large"`), never an error's words.
 */
import { existsSync, statSync } from "node:fs";
import { basename } from "node:path";
import type { Backend, BackendInfo, BackendKind } from "../../hal/backends/Backend.js";
import type { SequenceStateEvent } from "../../hal/backends/llamaCpp/SequenceStateStore.js";
import type { Calibration } from "../../hal/calibration/calibrateBackends.js";
import { expectedPrefillRate } from "../../hal/plan/expectedPrefillRate.js";
import type { BackendPlan } from "../../hal/plan/planBackend.js";
import { type HardwareReport, probeHardware } from "../../hal/probes/probeHardware.js";
import { pinThreadsToCpus } from "../../hal/threads/pinThreadsToCpus.js";
import { defaultStoreDirectory, ModelMissingError, resolveModelPath } from "../../models/store/defaultModelLocation.js";
import { inspectModel } from "../../models/store/inspectModel.js";
import { assertGgufModelFile } from "../admin/assertGgufModelFile.js";
import { resolveSwapModelPath } from "../admin/resolveSwapModelPath.js";
import { settleWithin } from "../admin/settleWithin.js";
import { type SwapOutcome, swapFailure } from "../admin/swapOutcome.js";
import { type BoardDefaultModel, boardDefaultModel } from "../boardDefaultModel.js";
import type { TinyllamadConfig } from "../config/configSchema.js";
import type { Logger } from "../logging/createLogger.js";
import { ModelLoadError } from "../ModelLoadError.js";
import type { BackendFallback, NodeStatus } from "../NodeStatus.js";
import { pullDefaultModel } from "../pullDefaultModel.js";
import type { Scheduler } from "../scheduler/Scheduler.js";
import { calibrateWithCache } from "./calibrateWithCache.js";
import { createBackend } from "./createBackend.js";
import { fallbackChain } from "./fallbackChain.js";
import { ModelTooLargeError } from "./ModelTooLargeError.js";
import { planForModel } from "./planForModel.js";

export interface BackendManagerOptions {
  /** The configuration now (a SIGHUP may change it). */
  config: () => TinyllamadConfig;
  /** A logger for a component ("models", "backend", "hal"), with that component's level. */
  logFor: (component: string) => Logger;
  status: NodeStatus;
  /** Aborted when the daemon stops: a start still pulling or loading gives up. */
  signal?: AbortSignal;
  /** Told whenever a backend starts serving (metrics). */
  onServing?: (info: BackendInfo) => void;
  onDecodeBatch?: (sequences: number) => void;
  onSequenceState?: (event: SequenceStateEvent) => void;
  /** Builds an unloaded backend; defaults to the real ones. */
  createBackend?: (kind: BackendKind) => Backend;
}

/** What a model and its plan would be loaded as. */
interface LoadTarget {
  kind: BackendKind;
  plan: BackendPlan;
  path: string;
}

type ReplaceResult =
  | { kind: "replaced"; info: BackendInfo }
  | { kind: "timeout" }
  | { kind: "stopping" }
  | { kind: "failed"; error: unknown };

export class BackendManager {
  private backend: Backend | undefined;
  private loaded: LoadTarget | undefined;
  private scheduler: Scheduler | undefined;
  private plan: BackendPlan | undefined;
  private hardware: HardwareReport | undefined;
  private chain: BackendKind[] = [];
  private defaultModel: BoardDefaultModel | undefined;
  private swapping = false;
  /** Memory the board had for models before the first load (null: unknown): the budget of a swap. */
  private memoryBudget: number | null | undefined;
  private prefillRate: { key: string; tokensPerSecond: number | null } | undefined;
  readonly fallbacks: BackendFallback[] = [];
  calibration: Calibration | undefined;
  private servingQuantization: { path: string; value: string | null } | undefined;

  constructor(private readonly options: BackendManagerOptions) {}

  /** The scheduler the serving backend is handed to. */
  attach(scheduler: Scheduler): void {
    this.scheduler = scheduler;
    scheduler.on("backendFailed", (failed, error) => void this.fallBackAfterFailure(failed, error));
  }

  get current(): Backend | undefined {
    return this.backend;
  }

  /** The plan the serving backend was loaded with (its reasons and cores), for the status. */
  get servingPlan(): BackendPlan | undefined {
    return this.loaded?.plan;
  }

  /** The serving model's quantization as its GGUF header names it (null: unknown, or not read yet). */
  get quantization(): string | null {
    return this.servingQuantization?.path === this.loaded?.path ? (this.servingQuantization?.value ?? null) : null;
  }

  private get config(): TinyllamadConfig {
    return this.options.config();
  }

  /** `model.path`, or when it is empty this board's default model (chosen once, reasons logged). */
  async resolveModel(configured: string): Promise<string> {
    if (configured.length > 0) return configured;
    if (!this.defaultModel) {
      this.defaultModel = boardDefaultModel(await probeHardware(this.config.hal.root), this.config);
      const { entry, path, reasons } = this.defaultModel;
      this.options.logFor("models").info({ model: entry.name, path, reasons }, "default model for this board");
    }
    return this.defaultModel.path;
  }

  /** The same, synchronously, once resolveModel has chosen (before that: the catalog's default file). */
  modelPathNow(configured: string): string {
    return configured.length > 0 ? configured : (this.defaultModel?.path ?? resolveModelPath(""));
  }

  /** Plans the backend for a model; refuses a missing file and (typed) one that cannot fit. */
  async checkModel(modelPath: string): Promise<BackendPlan> {
    const { plan, hardware } = await planForModel(this.config, modelPath, this.options.logFor("hal"));
    this.hardware = hardware;
    if (this.memoryBudget === undefined && this.backend === undefined) this.memoryBudget = plan.memory.haveBytes;
    if (plan.backend !== "npu" && !existsSync(modelPath)) throw new ModelMissingError(modelPath);
    if (plan.memory.kind === "too-large") {
      const reason = plan.reasons.find((line) => line.startsWith("warning: memory:")) ?? "";
      throw new ModelTooLargeError(
        `${basename(modelPath)} does not fit this board's memory: ${reason.replace(/^warning: /, "")}. ` +
          "`tinyllamad doctor` lists the catalog models that fit.",
        plan.memory.needBytes,
        plan.memory.haveBytes,
      );
    }
    return plan;
  }

  /** First start without the default model: pull it into the store, with progress. */
  async pull(modelPath: string): Promise<void> {
    if (!this.defaultModel) throw new ModelMissingError(modelPath);
    const model = basename(modelPath);
    await pullDefaultModel({
      entry: this.defaultModel.entry,
      path: modelPath,
      mirrorUrl: this.config.model.mirrorUrl,
      allowUnverified: this.config.model.allowUnverified,
      log: this.options.logFor("models"),
      onProgress: (progress) => this.options.status.progress.pulling(model, progress),
      ...(this.options.signal ? { signal: this.options.signal } : {}),
    });
    // The load comes next: say so before the state changes, so no status pairs "loading" with a download.
    this.options.status.progress.loading(model, 0);
  }

  /**
   * Start: calibrates when asked, then loads down the fallback chain until a backend loads. A file
   * that is not GGUF, or that no backend can load, is a ModelLoadError (exit 78, no retry). The magic
   * is checked first because node-llama-cpp's own magic error quotes the file's bytes.
   */
  async serveFirst(modelPath: string, checked?: BackendPlan): Promise<BackendInfo | undefined> {
    const plan = checked ?? (await this.checkModel(modelPath));
    this.plan = plan;
    this.chain = fallbackChain(plan);
    const { config } = this;
    if (config.backend.kind === "auto" && config.hal.calibrate && plan.candidates.length > 1) {
      const calibration = await this.calibrate(plan, modelPath, false);
      this.chain = [calibration.chosen, ...this.chain.filter((kind) => kind !== calibration.chosen)];
    }
    if (plan.backend !== "npu")
      await assertGgufModelFile(modelPath).catch(() => {
        throw new ModelLoadError(modelPath, "it does not start with the GGUF magic, or it is not a regular file");
      });
    let lastError: unknown;
    for (const kind of this.chain) {
      const result = await this.replace({ kind, plan, path: modelPath });
      if (result.kind === "replaced") return result.info;
      if (result.kind !== "failed") return undefined; // stopping
      lastError = result.error;
      if (lastError instanceof ModelMissingError || this.options.signal?.aborted) throw lastError;
      this.recordFallback(kind, lastError, "backend failed to load; falling back");
    }
    throw new ModelLoadError(modelPath, (lastError as Error)?.message ?? String(lastError));
  }

  /** `doctor --recalibrate` and start-up: plans, then measures every viable backend (cached unless forced). */
  async recalibrate(): Promise<{ plan: BackendPlan; calibration: Calibration | null }> {
    const modelPath = await this.resolveModel(this.config.model.path);
    const { plan, hardware } = await planForModel(this.config, modelPath, this.options.logFor("hal"));
    this.hardware = hardware;
    if (plan.candidates.length < 2) return { plan, calibration: null };
    return { plan, calibration: await this.calibrate(plan, modelPath, true) };
  }

  private async calibrate(plan: BackendPlan, modelPath: string, force: boolean): Promise<Calibration> {
    this.calibration = await calibrateWithCache({
      config: this.config,
      plan,
      hardware: this.hardware,
      modelPath,
      force,
      load: (kind) => this.loadBackend({ kind, plan, path: modelPath }),
      log: this.options.logFor("hal"),
      onMeasuring: (text) => this.options.status.activity(text, 120_000),
    });
    return this.calibration;
  }

  /**
   * Hot swap (admin request or SIGHUP): the new model replaces the old one, side by side when both fit
   * memory, else after the old one is drained and freed. A model that fails to load, or does not load
   * within admin.swapTimeoutMs, leaves the old one serving.
   */
  async swapTo(nextPath: string, origin: "admin" | "reload"): Promise<SwapOutcome> {
    const current = this.backend;
    if (!current || !this.loaded) return { ok: false, code: "E_NOT_READY", error: "not serving" };
    if (this.swapping) return { ok: false, code: "E_BACKEND", error: "a swap or fallback is already in progress" };
    if (current.kind === "npu") {
      this.options.logFor("models").warn({}, "model.path changed, but the NPU backend runs npu.modelPath");
      return { ok: false, code: "E_BACKEND", error: "the NPU backend runs npu.modelPath: restart to change it" };
    }
    this.swapping = true;
    const log = this.options.logFor("models");
    let path = nextPath;
    try {
      // The operator's own config may name any file; a request may name only the store and admin.modelDirectories.
      path =
        origin === "admin"
          ? await resolveSwapModelPath(nextPath, {
              storeDirectory: defaultStoreDirectory(),
              modelDirectories: this.config.admin.modelDirectories,
            })
          : this.modelPathNow(nextPath);
      await assertGgufModelFile(path);
      log.info({ from: current.info().modelPath, to: path }, "swapping the model");
      // A model that cannot fit the board is refused before anything is loaded or unloaded.
      const plan = await this.checkModel(path);
      const timeoutMs = this.config.admin.swapTimeoutMs;
      const result = await this.replace({ kind: current.kind, plan, path }, timeoutMs);
      if (result.kind === "replaced") {
        this.plan = plan;
        log.info({ model: basename(path) }, "model swapped");
        return { ok: true, model: basename(path), path };
      }
      if (result.kind === "stopping") return { ok: false, code: "E_SHUTTING_DOWN", error: "the daemon is stopping" };
      if (result.kind === "timeout") {
        log.error({ timeoutMs }, "the model swap timed out; the old model keeps serving");
        return {
          ok: false,
          code: "E_TIMEOUT",
          error: `the new model did not load within admin.swapTimeoutMs (${timeoutMs} ms); the old one keeps serving`,
        };
      }
      throw result.error;
    } catch (error) {
      this.options.status.progress.failed(basename(path), failureOf(error));
      const reason = (error as Error).message.split("\n")[0] ?? String(error);
      log.error({ model: path, err: reason }, "the new model failed to load; the old one keeps serving");
      return swapFailure(error, reason);
    } finally {
      this.swapping = false;
    }
  }

  /** A backend that failed mid-run is replaced by the next one down the chain; in-flight work already ended. */
  private async fallBackAfterFailure(failed: Backend, error: unknown): Promise<void> {
    if (this.swapping || failed !== this.backend || !this.plan || this.options.signal?.aborted) return;
    const next = this.chain[this.chain.indexOf(failed.kind) + 1];
    if (next === undefined) return;
    this.swapping = true;
    this.recordFallback(failed.kind, error, "backend failed while serving; falling back", { next });
    const path = this.modelPathNow(this.config.model.path);
    try {
      const result = await this.replace({ kind: next, plan: this.plan, path });
      if (result.kind === "failed") throw result.error;
      if (result.kind === "replaced")
        this.options.logFor("backend").info({ ...result.info }, "now serving on the fallback backend");
    } catch (loadError) {
      this.options.status.progress.failed(basename(path), failureOf(loadError));
      this.options
        .logFor("backend")
        .error({ next, err: (loadError as Error).message }, "fallback backend failed to load");
    } finally {
      this.swapping = false;
    }
  }

  /** Reads the header in the background: the status shows the quantization once known, serving never waits. */
  private readQuantization(path: string): void {
    if (path.endsWith(".rkllm")) return;
    inspectModel(path).then(
      (inspection) => {
        this.servingQuantization = { path, value: inspection.quantization };
      },
      () => {
        this.servingQuantization = { path, value: null };
      },
    );
  }

  /** The one load → swap → unload path. With a time limit, a late load is freed when it arrives. */
  private async replace(target: LoadTarget, timeoutMs?: number): Promise<ReplaceResult> {
    const current = this.backend;
    const previous = this.loaded;
    const log = this.options.logFor("models");
    let unloadedFirst = false;
    if (current && previous) {
      const needBytes = previous.plan.memory.needBytes + target.plan.memory.needBytes;
      const haveBytes = this.memoryBudget ?? null;
      unloadedFirst = haveBytes !== null && needBytes > haveBytes;
      this.options.status.swap = {
        mode: unloadedFirst ? "unload-first" : "side-by-side",
        from: basename(previous.path),
        to: basename(target.path),
        need_bytes: needBytes,
        have_bytes: haveBytes,
      };
      if (unloadedFirst) {
        log.warn(
          { from: previous.path, to: target.path, needBytes, haveBytes },
          "both models do not fit memory together: draining and unloading the old one first",
        );
        await this.scheduler?.detachBackend();
        this.backend = undefined;
        await current.unload({ signal: this.savingBound() });
      }
    }
    try {
      const loading = this.loadBackend(target);
      const settled =
        timeoutMs === undefined
          ? { done: true as const, value: await loading }
          : await settleWithin(loading, timeoutMs, (late) => {
              log.warn({ model: target.path }, "a timed-out swap loaded late; freeing it");
              late.unload().catch(() => {});
            });
      if (!settled.done) {
        if (unloadedFirst && previous) await this.restore(previous);
        return { kind: "timeout" };
      }
      if (this.options.signal?.aborted) {
        await settled.value.unload();
        return { kind: "stopping" };
      }
      return { kind: "replaced", info: await this.install(settled.value, target) };
    } catch (error) {
      if (unloadedFirst && previous && !this.options.signal?.aborted) await this.restore(previous);
      return { kind: "failed", error };
    } finally {
      if (current) this.options.status.swap = null;
    }
  }

  /** Gives the scheduler the new backend; the old one is freed once its last request ends. */
  private async install(next: Backend, target: LoadTarget): Promise<BackendInfo> {
    this.backend = next;
    this.loaded = target;
    this.readQuantization(target.path);
    const info = next.info();
    this.options.onServing?.(info);
    const swapped = this.scheduler?.swapBackend(next, info.parallelSequences);
    this.options.status.progress.ready(basename(info.modelPath));
    const old = await swapped;
    if (old !== undefined && old !== next) await old.unload({ signal: this.savingBound() });
    return info;
  }

  /** After an unload-first swap failed: the old model again, so the node keeps serving what it served. */
  private async restore(previous: LoadTarget): Promise<void> {
    try {
      await this.install(await this.loadBackend(previous), previous);
      this.options.logFor("models").warn({ model: previous.path }, "the old model is serving again");
    } catch (error) {
      this.options
        .logFor("models")
        .error(
          { model: previous.path, err: (error as Error).message },
          "the old model could not be loaded again: no model is loaded",
        );
    }
  }

  private async loadBackend({ kind, plan, path }: LoadTarget): Promise<Backend> {
    const { config } = this;
    const modelPath = kind === "npu" ? config.npu.modelPath : path;
    if (kind === "npu" && modelPath.length === 0) throw new Error("npu.modelPath is empty: no .rkllm model");
    if (kind !== "npu" && !existsSync(modelPath)) throw new ModelMissingError(modelPath);
    const backend =
      this.options.createBackend?.(kind) ??
      createBackend(kind, config, this.options.logFor("llama.cpp"), {
        onDecodeBatch: this.options.onDecodeBatch,
        onSequenceState: this.options.onSequenceState,
      });
    const model = basename(modelPath);
    this.options.logFor("backend").info({ kind, modelPath, threads: plan.threads }, "loading model");
    if (config.backend.pinThreads) this.pinThreads(plan);
    this.options.status.activity(`loading model ${model} on ${kind}`, 60_000);
    this.options.status.progress.loading(model, 0);
    let lastReported = -1;
    await backend.load({
      modelPath,
      contextSize: plan.contextSize,
      parallelSequences: plan.parallelSequences,
      kvCacheType: plan.kvCacheType,
      batchSize: plan.batchSize,
      threads: plan.threads,
      onProgress: (fraction) => {
        this.options.status.progress.loading(model, fraction);
        const percent = Math.floor(fraction * 10) * 10;
        if (percent > lastReported) {
          lastReported = percent;
          this.options.status.activity(`loading model ${model} on ${kind} ${percent} %`, 60_000);
        }
      },
    });
    return backend;
  }

  /** Before a load: the threads it starts inherit the plan's cores (hal/threads/pinThreadsToCpus). */
  private pinThreads(plan: BackendPlan): void {
    const pinned = pinThreadsToCpus(plan.cpuList);
    const log = this.options.logFor("backend");
    if (pinned.kind === "pinned")
      log.info({ cpus: pinned.cpus, threads: pinned.threads }, "threads pinned to the planned cores");
    // A plan for cores this process may not use (another board's tree, a cpuset) is not a fault.
    else
      log[pinned.kind === "failed" ? "warn" : "info"](
        { planned: plan.cpuList, reason: pinned.reason },
        "threads not pinned",
      );
  }

  private recordFallback(from: BackendKind, error: unknown, message: string, extra: object = {}): void {
    const reason = (error as Error)?.message?.split("\n")[0] ?? String(error);
    this.fallbacks.push({ from, reason });
    this.options.logFor("backend").warn({ backend: from, reason, ...extra }, message);
  }

  /** scheduler.prefillTokensPerSecond, else the estimate for the backend serving now (cached per model). */
  expectedPrefillTokensPerSecond(): number | null {
    if (this.config.scheduler.prefillTokensPerSecond > 0) return this.config.scheduler.prefillTokensPerSecond;
    let info: BackendInfo | undefined;
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

  /** `signal` ends the saving of resident sequence states (Backend.unload): the stop's bound. */
  async unload(signal?: AbortSignal): Promise<void> {
    const backend = this.backend;
    this.backend = undefined;
    await backend?.unload({ signal });
  }

  /** A swap saves the old model's resident conversations for as long as a stop would (shutdownGraceMs). */
  private savingBound(): AbortSignal {
    return AbortSignal.timeout(this.config.scheduler.shutdownGraceMs);
  }
}

/** A failure as the status topic's model_progress reports it. */
export function failureOf(error: unknown): { code: string; message: string } {
  const code = (error as { code?: unknown })?.code;
  return {
    code: typeof code === "string" && code.startsWith("E_") ? code : "E_BACKEND",
    message: error instanceof Error ? error.message : String(error),
  };
}
