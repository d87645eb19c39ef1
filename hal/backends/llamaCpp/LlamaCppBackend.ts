/**
 * The llama.cpp backend through node-llama-cpp: the CPU build (NEON on ARM, AVX2 on x86) or the
 * Vulkan build. One context holds one sequence per concurrent generation, so concurrent requests
 * are decoded together in one batch per step.
 */
import {
  type Llama,
  type LlamaContext,
  LlamaGrammarEvaluationState,
  type LlamaModel,
  type Token,
} from "node-llama-cpp";
import { ProtocolError } from "../../../protocol/errorCodes.js";
import type {
  Backend,
  BackendInfo,
  BackendKind,
  BackendLoadOptions,
  GenerationCallbacks,
  GenerationJob,
  GenerationResult,
  PromptTokenCount,
  UnloadOptions,
} from "../Backend.js";
import { assertPromptFits } from "../text/assertPromptFits.js";
import type { ChatTemplate } from "../text/ChatTemplate.js";
import { createLlamaContext } from "./createLlamaContext.js";
import { type BatchGathering, gatherSequencesIntoBatches } from "./gatherSequencesIntoBatches.js";
import { gpuLayersToOffload } from "./gpuLayersToOffload.js";
import { JsonSchemaGrammars } from "./JsonSchemaGrammars.js";
import { openLlama } from "./openLlama.js";
import { openSequenceStateStore } from "./openSequenceStateStore.js";
import {
  enablePersistentThreadpool,
  pauseIdlePersistentThreadpools,
  persistentThreadpoolState,
} from "./persistentThreadpool/persistentThreadpool.js";
import { prefillInChunks } from "./prefillInChunks.js";
import { prepareSequence } from "./prepareSequence.js";
import { resolveChatTemplate } from "./resolveChatTemplate.js";
import { SequencePool } from "./SequencePool.js";
import type { SequenceStateEvent, SequenceStateStore } from "./SequenceStateStore.js";
import { sampleAnswer } from "./sampleAnswer.js";
import { saveResidentStates } from "./saveResidentStates.js";
import { tokenizeInput } from "./tokenizeInput.js";
import { withLlamaCppReasons } from "./withLlamaCppReasons.js";

interface Loaded {
  llama: Llama;
  model: LlamaModel;
  context: LlamaContext;
  pool: SequencePool;
  /** Evaluated sequences saved to disk (undefined: off). */
  states: SequenceStateStore | undefined;
  /** The batching hook on the context (parallelSequences > 1 and node-llama-cpp's internals as expected). */
  batching: BatchGathering | undefined;
  chatTemplate: ChatTemplate | undefined;
  options: BackendLoadOptions;
  devices: string[];
}

export interface LlamaCppBackendOptions {
  kind: Extract<BackendKind, "cpu" | "vulkan">;
  /** Receives llama.cpp's own log lines (warnings and errors). */
  onLog?: (level: "warn" | "error", message: string) => void;
  /**
   * Give each context one persistent CPU threadpool (persistentThreadpool/): default true. Process-wide
   * once on; false only leaves it off when nothing else in the process turned it on.
   */
  persistentThreadpool?: boolean;
  /** llama.cpp's flash attention: "auto" (default, as llama-server), "on" or "off". */
  flashAttention?: "auto" | "on" | "off";
  /** Called for each batched decode step with the number of sequences that sampled a token in it. */
  onDecodeBatch?: (sequences: number) => void;
  /**
   * Map the model file (true) or read it into the process's own memory (false, the default): a
   * mapped file that is truncated or overwritten in place under the running daemon kills it with
   * SIGBUS on the next token; read weights cannot be taken away (docs/models.md, "Model file faults").
   */
  useMmap?: boolean;
  /**
   * Prompt tokens evaluated per prefill chunk, between which progress is reported and an abort
   * looked at (prefillInChunks.ts); 0 or absent: the context's batch size (512 by default).
   */
  prefillChunkTokens?: number;
  /** Reuse a sequence's cached prefix for a new prompt (default true); false for cold benchmarks. */
  prefixReuse?: boolean;
  /** vulkan: model layers offloaded to the GPU; -1 or absent: all of them (gpuLayersToOffload). */
  gpuLayers?: number;
  /**
   * Save the evaluated state of a sequence about to be overwritten to disk, and load it back when its
   * conversation returns (SequenceStateStore); absent: off. `minTokens` also bounds what the pool
   * overwrites lightly (SequencePool).
   */
  sequenceStates?: { directory: string; maxBytes: number; minTokens: number };
  /** Told of each sequence state saved, restored, evicted, replaced, rejected, failed or left unsaved. */
  onSequenceState?: (event: SequenceStateEvent) => void;
}

export class LlamaCppBackend implements Backend {
  readonly kind: "cpu" | "vulkan";
  private loaded: Loaded | undefined;
  private readonly grammars = new JsonSchemaGrammars();
  private hasGenerated = false;
  private activeGenerations = 0;
  /** llama.cpp's error lines while a load runs: node-llama-cpp's own error says only "Failed to load model". */
  private loadErrors: string[] | undefined;

  constructor(private readonly options: LlamaCppBackendOptions) {
    this.kind = options.kind;
  }

  async load(options: BackendLoadOptions): Promise<void> {
    if (this.loaded !== undefined) throw new Error("this backend already has a model loaded; unload it first");
    if (this.options.persistentThreadpool !== false) {
      const threadpool = enablePersistentThreadpool();
      if (!threadpool.enabled)
        this.options.onLog?.(
          "warn",
          `no persistent CPU threadpool (${threadpool.reason}): llama.cpp will start its worker threads on every token`,
        );
    }
    const llama = await openLlama(this.kind, options.threads, (level, text) => {
      if (level === "error") this.loadErrors?.push(text);
      this.options.onLog?.(level, text);
    });
    this.loadErrors = [];
    try {
      const devices = this.kind === "vulkan" ? await llama.getGpuDeviceNames() : [];
      if (this.kind === "vulkan" && devices.length === 0)
        throw new Error("the Vulkan build found no usable Vulkan device");
      const model = await llama.loadModel({
        modelPath: options.modelPath,
        gpuLayers: gpuLayersToOffload(this.kind, this.options.gpuLayers),
        useMmap: this.options.useMmap ?? false,
        loadSignal: options.signal,
        onLoadProgress: options.onProgress,
      });
      const context = await createLlamaContext(model, options, {
        flashAttention: this.options.flashAttention ?? "auto",
        onLog: this.options.onLog,
      });
      const batching =
        options.parallelSequences > 1 ? gatherSequencesIntoBatches(context, this.options.onDecodeBatch) : undefined;
      if (options.parallelSequences > 1 && batching === undefined)
        this.options.onLog?.(
          "warn",
          "this node-llama-cpp lacks the internals that gather every running sequence into each batch: concurrent requests decode a step apart",
        );
      const sequences = Array.from({ length: options.parallelSequences }, () => context.getSequence());
      const states = await openSequenceStateStore(this.options, {
        modelPath: options.modelPath,
        kind: this.kind,
        contextSize: context.contextSize,
        sequences: options.parallelSequences,
        flashAttention: this.options.flashAttention ?? "auto",
      });
      this.loaded = {
        llama,
        model,
        context,
        pool: new SequencePool(sequences, this.options.prefixReuse ?? true, this.options.sequenceStates?.minTokens),
        states,
        batching,
        chatTemplate: resolveChatTemplate(model, options.chatTemplate),
        options,
        devices,
      };
    } catch (error) {
      await llama.dispose();
      throw withLlamaCppReasons(error, this.loadErrors);
    } finally {
      this.loadErrors = undefined;
    }
  }

  /**
   * Saves the resident conversations worth keeping to disk first (saveResidentStates: a restart or a
   * swap back loads them instead of evaluating them), within `options.signal`, then frees the model.
   * A save still writing when the signal aborts keeps the context until it ends, unawaited.
   */
  async unload(options: UnloadOptions = {}): Promise<void> {
    const loaded = this.loaded;
    this.loaded = undefined;
    this.grammars.clear();
    if (loaded === undefined) return;
    if (loaded.states !== undefined && options.saveStates !== false) {
      const { batching } = loaded;
      const saving = await saveResidentStates(loaded.pool.residentSequences(), loaded.states, {
        minTokens: this.options.sequenceStates?.minTokens ?? 64,
        letIn: <T>(work: () => Promise<T>) => (batching ? batching.letIn(work) : work()),
        signal: options.signal,
        onLog: this.options.onLog,
      });
      if (saving.unsaved > 0 || saving.stillWriting)
        this.options.onLog?.(
          "warn",
          `the time to save the resident sequence states ran out: ${saving.unsaved} not saved${saving.stillWriting ? ", one still being written (the model is freed once it is done)" : ""}`,
        );
      if (saving.stillWriting) {
        void saving.pending.then(() => disposeLoaded(loaded)).catch(() => undefined);
        return;
      }
    }
    await disposeLoaded(loaded);
  }

  info(): BackendInfo {
    const loaded = this.requireLoaded();
    return {
      kind: this.kind,
      modelPath: loaded.options.modelPath,
      contextSize: loaded.context.contextSize,
      parallelSequences: loaded.pool.size,
      threads: loaded.context.currentThreads,
      devices: loaded.devices,
      gpuLayers: loaded.model.gpuLayers,
      cpuThreadpool: this.cpuThreadpool(),
    };
  }

  /** "persistent" once the threadpool library is in and (after the first generation) proven in use. */
  private cpuThreadpool(): "persistent" | "per-decode" {
    if (this.options.persistentThreadpool === false) return "per-decode";
    const state = persistentThreadpoolState();
    if (!state.enabled) return "per-decode";
    // node-llama-cpp bound llama_decode before the library was loaded: no decode ever reached it.
    if (this.hasGenerated && state.counters.decodesWithPool === 0) return "per-decode";
    return "persistent";
  }

  /** The model, for in-process comparisons (tests, benchmarks). */
  get model(): LlamaModel {
    return this.requireLoaded().model;
  }

  countPromptTokens(job: GenerationJob): PromptTokenCount {
    const loaded = this.requireLoaded();
    return {
      tokens: tokenizeInput(loaded.model, loaded.chatTemplate, job.input).length,
      contextSize: loaded.context.contextSize,
      approximate: false,
    };
  }

  async generate(job: GenerationJob, callbacks: GenerationCallbacks, signal: AbortSignal): Promise<GenerationResult> {
    const loaded = this.requireLoaded();
    const promptTokens = tokenizeInput(loaded.model, loaded.chatTemplate, job.input);
    assertPromptFits(promptTokens.length, loaded.context.contextSize);
    if (signal.aborted) return cancelledBeforeStart(promptTokens.length);
    const maxTokens = Math.min(job.maxTokens, loaded.context.contextSize - promptTokens.length);
    const grammarState =
      job.jsonSchema === undefined
        ? undefined
        : new LlamaGrammarEvaluationState({
            model: loaded.model,
            grammar: await this.grammars.grammarFor(loaded.llama, job.jsonSchema),
          });

    const lease = loaded.pool.acquire(job.session, promptTokens);
    this.activeGenerations += 1;
    const { sequence } = lease;
    let text = "";
    let completionTokens = 0;
    let finishReason: GenerationResult["finishReason"] = "stop";
    let reused = 0;
    let restored = 0;
    let toEvaluate: Token[] = promptTokens;
    let evaluatedPromptTokens = 0;
    const prefillOver = () => {
      if (evaluatedPromptTokens === toEvaluate.length) return;
      evaluatedPromptTokens = toEvaluate.length;
      callbacks.onPrefill?.({
        promptTokens: toEvaluate.length,
        evaluatedTokens: toEvaluate.length,
        nextChunkTokens: 0,
      });
    };
    try {
      const prepared = await prepareSequence(sequence, promptTokens, lease.reusableTokens, {
        batching: loaded.batching,
        states: loaded.states,
        minStateTokens: this.options.sequenceStates?.minTokens ?? 64,
      });
      reused = prepared.reusedTokens;
      restored = prepared.restoredTokens;
      toEvaluate = promptTokens.slice(reused);
      if (maxTokens <= 0) finishReason = "length";
      else {
        const prefill = await prefillInChunks(
          sequence,
          toEvaluate,
          this.prefillChunkTokens(loaded),
          signal,
          callbacks.onPrefill,
        );
        evaluatedPromptTokens = prefill.evaluatedTokens;
        if (prefill.aborted) finishReason = "cancelled";
        else {
          const answer = await sampleAnswer(sequence, loaded.model, {
            job,
            promptTokens,
            rest: toEvaluate.slice(prefill.evaluatedTokens),
            maxTokens,
            grammarState,
            signal,
            onFirstToken: () => {
              prefillOver();
              this.hasGenerated = true;
              callbacks.onFirstToken?.();
            },
            onText: callbacks.onText,
          });
          // The end of the sequence came first: the last chunk was evaluated all the same.
          prefillOver();
          ({ text, completionTokens, finishReason } = answer);
        }
      }
    } finally {
      lease.release(job.session);
      this.activeGenerations -= 1;
      // Nothing left to decode: let the CPU workers sleep now rather than poll for a next token.
      if (this.activeGenerations === 0 && this.options.persistentThreadpool !== false) pauseIdlePersistentThreadpools();
    }
    return {
      text,
      finishReason,
      promptTokens: promptTokens.length,
      completionTokens,
      reusedPromptTokens: reused,
      restoredPromptTokens: restored,
      evaluatedPromptTokens,
    };
  }

  /** Tokens per prefill chunk: the option, else the context's batch size (one decode each). */
  private prefillChunkTokens(loaded: Loaded): number {
    const chunk = this.options.prefillChunkTokens ?? 0;
    return chunk > 0 ? chunk : loaded.context.batchSize;
  }

  private requireLoaded(): Loaded {
    if (this.loaded === undefined) throw new ProtocolError("E_NOT_READY", "no model is loaded");
    return this.loaded;
  }
}

function cancelledBeforeStart(promptTokens: number): GenerationResult {
  return {
    text: "",
    finishReason: "cancelled",
    promptTokens,
    completionTokens: 0,
    reusedPromptTokens: 0,
    evaluatedPromptTokens: 0,
  };
}

async function disposeLoaded(loaded: Loaded): Promise<void> {
  await loaded.context.dispose();
  await loaded.model.dispose();
  await loaded.llama.dispose();
}
