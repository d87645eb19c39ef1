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
 *
 * This file is that story; its parts live beside it: loadBackend (one load, with progress),
 * swapMemoryPlan (side by side or unload-first), fallbackChain, DefaultModelSource (which file, and
 * its first pull), ServingQuantization and PrefillRateEstimate (figures for the status).
 */
import { existsSync } from "node:fs";
import { basename } from "node:path";
import type { Backend, BackendInfo, BackendKind } from "../../hal/backends/Backend.js";
import type { Calibration } from "../../hal/calibration/calibrateBackends.js";
import type { BackendPlan } from "../../hal/plan/planBackend.js";
import type { HardwareReport } from "../../hal/probes/probeHardware.js";
import { defaultStoreDirectory, ModelMissingError } from "../../models/store/defaultModelLocation.js";
import { assertGgufModelFile } from "../admin/assertGgufModelFile.js";
import { resolveSwapModelPath } from "../admin/resolveSwapModelPath.js";
import { settleWithin } from "../admin/settleWithin.js";
import { type SwapOutcome, swapFailure } from "../admin/swapOutcome.js";
import type { TinyllamadConfig } from "../config/configSchema.js";
import { ModelLoadError } from "../ModelLoadError.js";
import type { BackendFallback } from "../NodeStatus.js";
import type { Scheduler } from "../scheduler/Scheduler.js";
import type { BackendManagerOptions } from "./BackendManagerOptions.js";
import { calibrateWithCache } from "./calibrateWithCache.js";
import { DefaultModelSource } from "./DefaultModelSource.js";
import { failureOf } from "./failureOf.js";
import { fallbackChain } from "./fallbackChain.js";
import type { LoadTarget } from "./LoadTarget.js";
import { loadBackend } from "./loadBackend.js";
import { ModelTooLargeError } from "./ModelTooLargeError.js";
import { PrefillRateEstimate } from "./PrefillRateEstimate.js";
import { planForModel } from "./planForModel.js";
import type { ReplaceResult } from "./ReplaceResult.js";
import { ServingQuantization } from "./ServingQuantization.js";
import { swapMemoryPlan } from "./swapMemoryPlan.js";

// Callers import these with the manager, as they did when they were declared here.
export type { BackendManagerOptions };
export { failureOf };

export class BackendManager {
  private backend: Backend | undefined;
  private loaded: LoadTarget | undefined;
  private scheduler: Scheduler | undefined;
  private plan: BackendPlan | undefined;
  private hardware: HardwareReport | undefined;
  private chain: BackendKind[] = [];
  private readonly models: DefaultModelSource;
  private swapping = false;
  /** Memory the board had for models before the first load (null: unknown): the budget of a swap. */
  private memoryBudget: number | null | undefined;
  private readonly prefillRate = new PrefillRateEstimate();
  readonly fallbacks: BackendFallback[] = [];
  calibration: Calibration | undefined;
  private readonly servingQuantization = new ServingQuantization();

  constructor(private readonly options: BackendManagerOptions) {
    this.models = new DefaultModelSource(options);
  }

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
    return this.servingQuantization.of(this.loaded?.path);
  }

  private get config(): TinyllamadConfig {
    return this.options.config();
  }

  /** `model.path`, or when it is empty this board's default model (chosen once, reasons logged). */
  resolveModel(configured: string): Promise<string> {
    return this.models.resolve(configured);
  }

  /** The same, synchronously, once resolveModel has chosen (before that: the catalog's default file). */
  modelPathNow(configured: string): string {
    return this.models.pathNow(configured);
  }

  /** Plans the backend for a model; refuses a missing file and (typed) one that cannot fit. */
  async checkModel(modelPath: string): Promise<BackendPlan> {
    const { plan, hardware } = await planForModel(this.config, modelPath, this.options.logFor("hal"));
    this.hardware = hardware;
    if (this.memoryBudget === undefined && this.backend === undefined) this.memoryBudget = plan.memory.haveBytes;
    if (plan.backend !== "npu" && !existsSync(modelPath)) throw new ModelMissingError(modelPath);
    if (plan.memory.kind === "too-large") throw ModelTooLargeError.forPlan(modelPath, plan.reasons, plan.memory);
    return plan;
  }

  /** First start without the default model: pull it into the store, with progress. */
  pull(modelPath: string): Promise<void> {
    return this.models.pull(modelPath);
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
      load: (kind) => loadBackend({ kind, plan, path: modelPath }, this.options),
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

  /** The one load → swap → unload path. With a time limit, a late load is freed when it arrives. */
  private async replace(target: LoadTarget, timeoutMs?: number): Promise<ReplaceResult> {
    const current = this.backend;
    const previous = this.loaded;
    const log = this.options.logFor("models");
    let unloadedFirst = false;
    if (current && previous) {
      const swap = swapMemoryPlan(previous, target, this.memoryBudget);
      unloadedFirst = swap.mode === "unload-first";
      this.options.status.swap = swap;
      if (unloadedFirst) {
        log.warn(
          { from: previous.path, to: target.path, needBytes: swap.need_bytes, haveBytes: swap.have_bytes },
          "both models do not fit memory together: draining and unloading the old one first",
        );
        await this.scheduler?.detachBackend();
        this.backend = undefined;
        await current.unload({ signal: this.savingBound() });
      }
    }
    try {
      const loading = loadBackend(target, this.options);
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
    this.servingQuantization.read(target.path);
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
      await this.install(await loadBackend(previous, this.options), previous);
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
    return this.prefillRate.tokensPerSecond(info, this.hardware?.board.id ?? "generic-unknown");
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
