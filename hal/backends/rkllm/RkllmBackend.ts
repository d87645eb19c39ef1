/**
 * The Rockchip NPU backend: TinyLlama converted to .rkllm, run by Rockchip's RKLLM runtime 1.2.0
 * (librkllmrt.so) through the typed boundary in rkllmRuntime.ts.
 *
 * What the runtime decides and what this backend does around it:
 *  - One generation at a time: an RKLLM handle runs one task; parallelSequences is clamped to 1 and
 *    concurrent generate() calls wait their turn.
 *  - Sampling (temperature, top_k, top_p, repeat_penalty) is fixed in RKLLMParam at load: the 1.2.0
 *    API has no per-run sampling and no seed. Per-request sampling and seed are ignored (see
 *    `limitations`); json_schema is refused with E_BAD_SCHEMA; sessions get no prefix reuse.
 *  - Prompts: chat messages are rendered here with the catalog's chat template (the .rkllm's own is
 *    switched off with rkllm_set_chat_template("", "", "")); raw prompts go to the runtime as they are.
 *  - Tokens: one result callback per token; max_tokens and stop strings are enforced here, by counting
 *    callbacks and calling rkllm_abort. Prompt tokens are an estimate (estimateTokenCount): 1.2.0
 *    reports none.
 */
import { TextDecoder } from "node:util";
import { tinyLlamaChatTemplate } from "../../../models/chatTemplates.js";
import { ProtocolError } from "../../../protocol/errorCodes.js";
import type {
  Backend,
  BackendInfo,
  BackendLoadOptions,
  GenerationCallbacks,
  GenerationInput,
  GenerationJob,
  GenerationResult,
  PromptTokenCount,
} from "../Backend.js";
import { assertPromptFits } from "../text/assertPromptFits.js";
import { ChatTemplate } from "../text/ChatTemplate.js";
import { StopStringMatcher } from "../text/StopStringMatcher.js";
import { estimateTokenCount } from "./estimateTokenCount.js";
import { RkllmRuntimeError } from "./RkllmRuntimeError.js";
import {
  LLMCallState,
  openRkllmRuntime,
  type RkllmCallbackEvent,
  type RkllmModel,
  type RkllmRuntime,
  rkllmApiVersion,
} from "./rkllmRuntime.js";

export interface RkllmSampling {
  /** Defaults to 0 (with topK 1: greedy). */
  temperature?: number;
  /** Defaults to 1 (greedy). */
  topK?: number;
  /** Defaults to 1. */
  topP?: number;
  /** Defaults to 1 (off). */
  repeatPenalty?: number;
}

export interface RkllmBackendOptions {
  /** librkllmrt.so: a path, or a name for the dynamic loader. Defaults to "librkllmrt.so". */
  libraryPath?: string;
  /** Sampling for every request (the runtime fixes it at load). Defaults to greedy. */
  sampling?: RkllmSampling;
  /** Counts the tokens of a rendered prompt. Defaults to estimateTokenCount (an over-estimate). */
  countTokens?: (text: string) => number;
  /** CPUs the runtime may use beside the NPU. Defaults to the RK3588's big cores: 4 CPUs, mask 0xF0 (cpu4–7). */
  cpus?: { count: number; mask: number };
}

interface Generation {
  job: GenerationJob;
  callbacks: GenerationCallbacks;
  maxTokens: number;
  decoder: TextDecoder;
  stops: StopStringMatcher;
  text: string;
  completionTokens: number;
  finishReason: GenerationResult["finishReason"] | undefined;
  runtimeFinished: boolean;
  runtimeError: boolean;
  abortsSent: number;
  failure: unknown;
  /** The prompt's tokens (an estimate: RKLLM 1.2.0 reports none). */
  promptTokens: number;
  /** rkllm_run was called: the runtime evaluates the whole prompt once started (see runOne). */
  prefillStarted: boolean;
}

interface Loaded {
  runtime: RkllmRuntime;
  model: RkllmModel;
  options: BackendLoadOptions;
  chatTemplate: ChatTemplate;
  maxNewTokens: number;
  cpus: { count: number; mask: number };
  current: Generation | undefined;
  running: Promise<unknown>;
}

export class RkllmBackend implements Backend {
  readonly kind = "npu" as const;
  private loaded: Loaded | undefined;
  private readonly limitationList: string[] = [];

  constructor(private readonly options: RkllmBackendOptions = {}) {}

  /** What this backend cannot do that a client may ask for, in words (for logs and `doctor`). */
  get limitations(): readonly string[] {
    return this.limitationList;
  }

  async load(options: BackendLoadOptions): Promise<void> {
    if (this.loaded !== undefined) throw new Error("this backend already has a model loaded; unload it first");
    options.signal?.throwIfAborted();
    const runtime = await openRkllmRuntime(this.options.libraryPath);
    const sampling = this.options.sampling ?? {};
    const cpus = this.options.cpus ?? { count: 4, mask: 0xf0 };
    const maxNewTokens = options.contextSize;
    const param = runtime.createDefaultParam();
    param.model_path = options.modelPath;
    param.max_context_len = options.contextSize;
    param.max_new_tokens = maxNewTokens;
    param.top_k = sampling.topK ?? 1;
    param.top_p = sampling.topP ?? 1;
    param.temperature = sampling.temperature ?? 0;
    param.repeat_penalty = sampling.repeatPenalty ?? 1;
    param.skip_special_token = true;
    param.is_async = false;
    param.extend_param = { ...param.extend_param, enabled_cpus_num: cpus.count, enabled_cpus_mask: cpus.mask };
    let loaded: Loaded | undefined;
    const model = await runtime.init(param, (event) => this.onRuntimeEvent(loaded, event));
    try {
      // Switch the .rkllm's own template off: the prompt we send is already formatted.
      const status = await model.setChatTemplate("", "", "");
      if (status !== 0) throw new RkllmRuntimeError("E_NPU_INIT_FAILED", `rkllm_set_chat_template returned ${status}`);
      options.signal?.throwIfAborted();
    } catch (error) {
      await model.destroy();
      throw error;
    }
    const template =
      options.chatTemplate !== undefined && options.chatTemplate.length > 0
        ? options.chatTemplate
        : tinyLlamaChatTemplate;
    loaded = {
      runtime,
      model,
      options,
      chatTemplate: new ChatTemplate(template, { bos: "<s>", eos: "</s>" }),
      maxNewTokens,
      cpus,
      current: undefined,
      running: Promise.resolve(),
    };
    this.limitationList.length = 0;
    if (options.parallelSequences > 1)
      this.limitationList.push(
        `parallelSequences ${options.parallelSequences} clamped to 1: an RKLLM ${rkllmApiVersion} handle runs one generation at a time`,
      );
    this.limitationList.push(
      `sampling is fixed at load (temperature ${param.temperature}, top_k ${param.top_k}, top_p ${param.top_p}, ` +
        `repeat_penalty ${param.repeat_penalty}): RKLLM ${rkllmApiVersion} has no per-request sampling and no seed`,
      "json_schema is not supported on the NPU backend (no grammar-constrained sampling)",
      "prompt token counts are estimates: RKLLM 1.2.0 reports none",
      "sessions do not reuse a prefix: every request is evaluated from the start (keep_history 0)",
    );
    options.onProgress?.(1);
    this.loaded = loaded;
  }

  async unload(): Promise<void> {
    const loaded = this.loaded;
    this.loaded = undefined;
    if (loaded === undefined) return;
    if (loaded.current !== undefined) this.stop(loaded, loaded.current, "cancelled");
    await loaded.running.catch(() => undefined);
    await loaded.model.destroy();
  }

  info(): BackendInfo {
    const loaded = this.requireLoaded();
    return {
      kind: this.kind,
      modelPath: loaded.options.modelPath,
      contextSize: loaded.options.contextSize,
      parallelSequences: 1,
      threads: loaded.cpus.count,
      devices: [
        `Rockchip NPU (RKLLM runtime ${rkllmApiVersion}, ${loaded.runtime.resolvedPath ?? loaded.runtime.libraryPath})`,
      ],
      gpuLayers: 0,
    };
  }

  countPromptTokens(job: GenerationJob): PromptTokenCount {
    const loaded = this.requireLoaded();
    return {
      tokens: this.countTokens(this.renderInput(loaded, job.input)),
      contextSize: loaded.options.contextSize,
      approximate: true,
    };
  }

  async generate(job: GenerationJob, callbacks: GenerationCallbacks, signal: AbortSignal): Promise<GenerationResult> {
    const loaded = this.requireLoaded();
    if (job.jsonSchema !== undefined)
      throw new ProtocolError("E_BAD_SCHEMA", "json_schema is not supported on the NPU backend");
    const prompt = this.renderInput(loaded, job.input);
    const promptTokens = this.countTokens(prompt);
    assertPromptFits(promptTokens, loaded.options.contextSize, { approximate: true });
    if (signal.aborted) return resultOf(undefined, promptTokens);
    // One generation at a time: wait for the one before (its outcome is not ours).
    const previous = loaded.running;
    let release = () => {};
    loaded.running = new Promise<void>((resolve) => {
      release = resolve;
    });
    try {
      await previous.catch(() => undefined);
      if (signal.aborted || this.loaded !== loaded) return resultOf(undefined, promptTokens);
      return await this.runOne(loaded, job, callbacks, signal, prompt, promptTokens);
    } finally {
      release();
    }
  }

  private async runOne(
    loaded: Loaded,
    job: GenerationJob,
    callbacks: GenerationCallbacks,
    signal: AbortSignal,
    prompt: string,
    promptTokens: number,
  ): Promise<GenerationResult> {
    const generation: Generation = {
      job,
      callbacks,
      maxTokens: Math.min(job.maxTokens, loaded.options.contextSize - promptTokens),
      decoder: new TextDecoder("utf-8"),
      stops: new StopStringMatcher(job.stop),
      text: "",
      completionTokens: 0,
      finishReason: undefined,
      runtimeFinished: false,
      runtimeError: false,
      abortsSent: 0,
      failure: undefined,
      promptTokens,
      prefillStarted: false,
    };
    if (generation.maxTokens <= 0) return { ...resultOf(generation, promptTokens), finishReason: "length" };
    const onAbort = () => this.stop(loaded, generation, "cancelled");
    loaded.current = generation;
    signal.addEventListener("abort", onAbort, { once: true });
    let status: number;
    try {
      // RKLLM 1.2.0 evaluates the whole prompt in one step that reports nothing and that rkllm_abort
      // does not cut short (it takes effect at the first token: airockchip/rknn-llm#400). So the whole
      // prompt is announced as one chunk: the liveness check allows for it at the expected rate.
      generation.prefillStarted = true;
      callbacks.onPrefill?.({ promptTokens, evaluatedTokens: 0, nextChunkTokens: promptTokens });
      status = await loaded.model.run(prompt, { keepHistory: false });
    } finally {
      signal.removeEventListener("abort", onAbort);
      loaded.current = undefined;
    }
    if (generation.failure !== undefined) throw generation.failure;
    if (generation.runtimeError)
      throw new RkllmRuntimeError(
        "E_NPU_RUN_FAILED",
        `the RKLLM runtime reported an error after ${generation.completionTokens} tokens (RKLLM_RUN_ERROR)`,
      );
    if (status !== 0 && generation.finishReason === undefined)
      throw new RkllmRuntimeError("E_NPU_RUN_FAILED", `rkllm_run returned ${status}`);
    if (signal.aborted) generation.finishReason = "cancelled";
    if (generation.finishReason === undefined)
      generation.finishReason = generation.completionTokens >= loaded.maxNewTokens ? "length" : "stop";
    if (generation.finishReason !== "cancelled") this.flushText(generation);
    return resultOf(generation, promptTokens);
  }

  /** Runs on the JS thread (koffi forwards the runtime thread's calls), once per token and once at the end. */
  private onRuntimeEvent(loaded: Loaded | undefined, event: RkllmCallbackEvent): void {
    const generation = loaded?.current;
    if (loaded === undefined || generation === undefined) return;
    try {
      if (event.state === LLMCallState.RKLLM_RUN_ERROR) {
        generation.runtimeError = true;
        return;
      }
      if (event.state === LLMCallState.RKLLM_RUN_FINISH) {
        generation.runtimeFinished = true;
        return;
      }
      if (event.state !== LLMCallState.RKLLM_RUN_NORMAL && event.state !== LLMCallState.RKLLM_RUN_WAITING) return;
      if (generation.finishReason !== undefined) {
        // Tokens after our decision to stop: an abort sent before the run began may have been lost.
        if (generation.abortsSent < 2) this.sendAbort(loaded, generation);
        return;
      }
      generation.completionTokens += 1;
      if (generation.completionTokens === 1) {
        const { promptTokens } = generation;
        generation.callbacks.onPrefill?.({ promptTokens, evaluatedTokens: promptTokens, nextChunkTokens: 0 });
        generation.callbacks.onFirstToken?.();
      }
      const piece = event.text === null ? "" : generation.decoder.decode(event.text, { stream: true });
      const step = generation.stops.push(piece);
      this.emit(generation, step.text);
      if (step.stopped) this.stop(loaded, generation, "stop");
      else if (generation.completionTokens >= generation.maxTokens) this.stop(loaded, generation, "length");
    } catch (error) {
      // A throwing onText must fail this request, not the runtime's thread.
      generation.failure ??= error;
      this.stop(loaded, generation, "cancelled");
    }
  }

  private stop(loaded: Loaded, generation: Generation, reason: GenerationResult["finishReason"]): void {
    if (generation.finishReason !== undefined || generation.runtimeFinished) return;
    generation.finishReason = reason;
    this.sendAbort(loaded, generation);
  }

  private sendAbort(loaded: Loaded, generation: Generation): void {
    generation.abortsSent += 1;
    loaded.model.abort().catch(() => undefined);
  }

  private emit(generation: Generation, text: string): void {
    if (text.length === 0) return;
    generation.text += text;
    generation.callbacks.onText(text);
  }

  private flushText(generation: Generation): void {
    const rest = generation.stops.push(generation.decoder.decode());
    this.emit(generation, rest.stopped ? rest.text : rest.text + generation.stops.flush());
    if (rest.stopped) generation.finishReason = "stop";
  }

  private renderInput(loaded: Loaded, input: GenerationInput): string {
    return input.kind === "prompt" ? input.prompt : loaded.chatTemplate.render(input.messages);
  }

  private countTokens(text: string): number {
    return (this.options.countTokens ?? estimateTokenCount)(text);
  }

  private requireLoaded(): Loaded {
    if (this.loaded === undefined) throw new ProtocolError("E_NOT_READY", "no model is loaded");
    return this.loaded;
  }
}

function resultOf(generation: Generation | undefined, promptTokens: number): GenerationResult {
  return {
    text: generation?.text ?? "",
    finishReason: generation?.finishReason ?? "cancelled",
    promptTokens,
    completionTokens: generation?.completionTokens ?? 0,
    reusedPromptTokens: 0,
    // Once started, the runtime's prefill runs to its end (an abort waits for the first token).
    evaluatedPromptTokens: generation?.prefillStarted ? promptTokens : 0,
  };
}
