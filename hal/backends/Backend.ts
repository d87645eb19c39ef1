/**
 * The contract every inference backend implements (CPU and Vulkan through node-llama-cpp, the
 * Rockchip NPU through RKLLM). The scheduler talks only to this interface.
 */
import type { ChatMessage, FinishReason, SamplingOptions } from "../../protocol/generation.js";

export type BackendKind = "cpu" | "vulkan" | "npu";

export interface BackendLoadOptions {
  /** Path of the model file (GGUF for cpu/vulkan, .rkllm for npu). */
  modelPath: string;
  /** Context window per sequence, in tokens. */
  contextSize: number;
  /** Number of generations the backend may run at once (sequences / slots). */
  parallelSequences: number;
  /** CPU threads for inference. */
  threads: number;
  /** KV cache element type (cpu/vulkan; the memory plan's choice): absent = f16. */
  kvCacheType?: "f16" | "q8_0" | undefined;
  /** Tokens per llama.cpp batch (cpu/vulkan): absent = 512 (or the context, when smaller). */
  batchSize?: number | undefined;
  /** Chat template (Jinja) to use when the model file carries none or it must be overridden. */
  chatTemplate?: string | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ((fraction: number) => void) | undefined;
}

export type GenerationInput = { kind: "prompt"; prompt: string } | { kind: "chat"; messages: ChatMessage[] };

export interface GenerationJob {
  /** Request id, for logs only. */
  id: string;
  input: GenerationInput;
  maxTokens: number;
  sampling: SamplingOptions;
  stop: string[];
  jsonSchema?: Record<string, unknown> | undefined;
  /** Requests with the same session reuse the evaluated prefix of earlier ones. */
  session?: string | undefined;
}

/** Where the evaluation of a prompt (the prefill) stands. */
export interface PrefillProgress {
  /** Prompt tokens to evaluate in all (the prompt less the prefix reused from a sequence). */
  promptTokens: number;
  /** Of those, evaluated so far. */
  evaluatedTokens: number;
  /**
   * Tokens the backend evaluates before it reports again: one chunk (llama.cpp), the whole prompt
   * (a runtime that cannot report within a prefill, the NPU's), 0 once the prefill is over.
   */
  nextChunkTokens: number;
}

export interface GenerationCallbacks {
  /** Called for each piece of text as it becomes final (never splits a UTF-8 character). */
  onText(text: string): void;
  /** Called once, when the first generated token is sampled. */
  onFirstToken?(): void;
  /**
   * Prefill progress: once when the prompt's evaluation starts, after each chunk of it, and once
   * (nextChunkTokens 0) when it is over. The liveness check counts each call as progress.
   */
  onPrefill?(progress: PrefillProgress): void;
}

export interface GenerationResult {
  text: string;
  finishReason: FinishReason;
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens that were reused from a cached prefix instead of evaluated. */
  reusedPromptTokens: number;
  /** Of the reused prompt tokens, those loaded from a sequence state saved on disk (llama.cpp backends). */
  restoredPromptTokens?: number;
  /**
   * Prompt tokens evaluated for this job: promptTokens − reusedPromptTokens when the prefill ran to
   * its end; fewer when the job was aborted during it (the prefill stops between chunks).
   */
  evaluatedPromptTokens: number;
}

export interface BackendInfo {
  kind: BackendKind;
  modelPath: string;
  contextSize: number;
  parallelSequences: number;
  threads: number;
  /** Devices in use, e.g. ["llvmpipe (LLVM 15.0.6, 256 bits)"] for Vulkan. */
  devices: string[];
  /** Model layers offloaded to a GPU (0 on the CPU backend). */
  gpuLayers: number;
  /**
   * llama.cpp backends: whether the CPU worker threads persist between tokens or are started on every
   * decode (see hal/backends/llamaCpp/persistentThreadpool/). Absent on the NPU backend.
   */
  cpuThreadpool?: "persistent" | "per-decode";
}

export interface PromptTokenCount {
  tokens: number;
  /** The context window of one sequence, prompt and answer together. */
  contextSize: number;
  /** True where the count is an estimate (a backend without the model's own tokenizer). */
  approximate: boolean;
}

export interface UnloadOptions {
  /** Ends the saving of resident sequence states (a deadline, a second SIGTERM); absent: no limit. */
  signal?: AbortSignal | undefined;
  /** false: free at once, saving nothing (a calibration run's prompts are no conversation); default true. */
  saveStates?: boolean;
}

export interface Backend {
  readonly kind: BackendKind;
  load(options: BackendLoadOptions): Promise<void>;
  /**
   * Frees the model. A backend that keeps prompt prefixes (llama.cpp) first saves the resident
   * conversations worth keeping to disk, until `options.signal` aborts: a stop or swap never waits longer.
   */
  unload(options?: UnloadOptions): Promise<void>;
  info(): BackendInfo;
  /**
   * The prompt tokens of a job and the context they must fit, synchronously and cheaply: the
   * scheduler calls it (through checkFits) for every request before queueing it. Throws a
   * ProtocolError only for a request the backend cannot read at all (messages without a chat template).
   */
  countPromptTokens(job: GenerationJob): PromptTokenCount;
  /**
   * Generates for one job. Resolves with finishReason "cancelled" when the signal aborts — during the
   * prefill too, at the end of the chunk being evaluated; rejects only on a backend failure.
   */
  generate(job: GenerationJob, callbacks: GenerationCallbacks, signal: AbortSignal): Promise<GenerationResult>;
}
