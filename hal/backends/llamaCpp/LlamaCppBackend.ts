/**
 * The llama.cpp backend through node-llama-cpp: the CPU build (NEON on ARM, AVX2 on x86) or the
 * Vulkan build. One context holds one sequence per concurrent generation, so concurrent requests
 * are decoded together in one batch per step.
 */
import {
  getLlama,
  type Llama,
  type LlamaContext,
  LlamaGrammarEvaluationState,
  type LlamaJsonSchemaGrammar,
  LlamaLogLevel,
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
  GenerationInput,
  GenerationJob,
  GenerationResult,
  PromptTokenCount,
} from "../Backend.js";
import { assertPromptFits } from "../text/assertPromptFits.js";
import { ChatTemplate } from "../text/ChatTemplate.js";
import { StopStringMatcher } from "../text/StopStringMatcher.js";
import { JsonSchemaSubsetError, toGrammarSchema } from "./checkJsonSchemaSubset.js";
import { type BatchGathering, gatherSequencesIntoBatches } from "./gatherSequencesIntoBatches.js";
import { openSequenceStateStore } from "./openSequenceStateStore.js";
import {
  enablePersistentThreadpool,
  pauseIdlePersistentThreadpools,
  persistentThreadpoolState,
} from "./persistentThreadpool/persistentThreadpool.js";
import { prefillInChunks } from "./prefillInChunks.js";
import { prepareSequence } from "./prepareSequence.js";
import { SequencePool } from "./SequencePool.js";
import type { SequenceStateEvent, SequenceStateStore } from "./SequenceStateStore.js";
import { TokenTextStream } from "./TokenTextStream.js";
import { vulkanUnavailableReason } from "./vulkanUnavailableReason.js";

/**
 * The load error with the reason llama.cpp logged ("tensor 'output.weight' data is not within the
 * file bounds, model is corrupted or incomplete"), without the C function-name prefixes.
 */
function withLlamaCppReasons(error: unknown, lines: string[] | undefined): unknown {
  const reasons = (lines ?? [])
    .map((line) => line.replace(/^\w+: (error loading model: )?/, ""))
    .filter((line) => line !== "failed to load model");
  if (!(error instanceof Error) || reasons.length === 0) return error;
  return new Error(`${error.message}: ${reasons.join("; ")}`, { cause: error });
}

/** Tokens looked back on for repeat_penalty, as llama.cpp's default. */
const repeatPenaltyWindow = 64;
const grammarCacheSize = 16;

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
  /** Told of each sequence state saved, restored, evicted, replaced, rejected or failed. */
  onSequenceState?: (event: SequenceStateEvent) => void;
}

/**
 * node-llama-cpp's gpuLayers for a backend kind and the backend.gpuLayers setting: none on the CPU
 * build; on Vulkan "max" for -1 (every layer), else that many layers (the rest run on the CPU).
 */
export function gpuLayersToOffload(kind: "cpu" | "vulkan", configured = -1): number | "max" {
  if (kind === "cpu") return 0;
  return configured < 0 ? "max" : configured;
}

/** Elements per q8_0 block: llama.cpp stores a q8_0 K/V cache only for heads a multiple of this wide. */
const q8BlockSize = 32;

/**
 * The KV type a model can hold: q8_0 only where every head's width divides into q8_0 blocks
 * (TinyLlama's 64-wide heads do; the 16-wide heads of the test models do not), else f16 — the
 * memory plan may choose q8_0 without reading the model, and a failed context must not stop a board.
 */
export function kvCacheTypeForHeads(
  requested: "f16" | "q8_0" | undefined,
  metadata: {
    embedding_length?: number;
    attention?: { head_count?: number; key_length?: number; value_length?: number };
  },
): "f16" | "q8_0" | undefined {
  if (requested !== "q8_0") return requested;
  const heads = metadata.attention?.head_count;
  const derived = heads && metadata.embedding_length ? metadata.embedding_length / heads : undefined;
  const widths = [metadata.attention?.key_length ?? derived, metadata.attention?.value_length ?? derived];
  return widths.every((width) => width !== undefined && width % q8BlockSize === 0) ? "q8_0" : "f16";
}

export class LlamaCppBackend implements Backend {
  readonly kind: "cpu" | "vulkan";
  private loaded: Loaded | undefined;
  private readonly grammars = new Map<string, Promise<LlamaJsonSchemaGrammar<never>>>();
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
    const llama = await getLlama({
      gpu: this.kind === "vulkan" ? "vulkan" : false,
      build: "never",
      maxThreads: options.threads,
      logLevel: LlamaLogLevel.warn,
      logger: (level, message) => {
        const text = message.trim();
        if (text.length === 0) return;
        if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) {
          this.loadErrors?.push(text);
          this.options.onLog?.("error", text);
        } else if (level === LlamaLogLevel.warn) this.options.onLog?.("warn", text);
      },
    }).catch((error: unknown) => {
      // The Vulkan build rejected by node-llama-cpp's load test: the fallback names why, as doctor does.
      throw this.kind === "vulkan" ? new Error(vulkanUnavailableReason(error)) : error;
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
      const kvCacheType = kvCacheTypeForHeads(options.kvCacheType, model.fileInfo.architectureMetadata);
      if (kvCacheType !== options.kvCacheType)
        this.options.onLog?.(
          "warn",
          `q8_0 KV cache needs attention heads a multiple of ${q8BlockSize} wide; this model's are not: using f16`,
        );
      const context = await model.createContext({
        contextSize: options.contextSize,
        sequences: options.parallelSequences,
        threads: { ideal: options.threads, min: options.threads },
        // A quantized V cache needs flash attention in llama.cpp: q8_0 asks for it unless forced off.
        flashAttention:
          kvCacheType === "q8_0" && (this.options.flashAttention ?? "auto") === "auto"
            ? true
            : flashAttentionOption(this.options.flashAttention ?? "auto"),
        ...(kvCacheType === "q8_0"
          ? { experimentalKvCacheKeyType: "Q8_0" as const, experimentalKvCacheValueType: "Q8_0" as const }
          : {}),
        ...(options.batchSize ? { batchSize: options.batchSize } : {}),
        createSignal: options.signal,
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

  async unload(): Promise<void> {
    const loaded = this.loaded;
    this.loaded = undefined;
    this.grammars.clear();
    if (loaded === undefined) return;
    await loaded.context.dispose();
    await loaded.model.dispose();
    await loaded.llama.dispose();
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
      tokens: this.tokenizeInput(loaded, job.input).length,
      contextSize: loaded.context.contextSize,
      approximate: false,
    };
  }

  async generate(job: GenerationJob, callbacks: GenerationCallbacks, signal: AbortSignal): Promise<GenerationResult> {
    const loaded = this.requireLoaded();
    const promptTokens = this.tokenizeInput(loaded, job.input);
    assertPromptFits(promptTokens.length, loaded.context.contextSize);
    if (signal.aborted) return cancelledBeforeStart(promptTokens.length);
    const maxTokens = Math.min(job.maxTokens, loaded.context.contextSize - promptTokens.length);
    const grammarState =
      job.jsonSchema === undefined
        ? undefined
        : new LlamaGrammarEvaluationState({
            model: loaded.model,
            grammar: await this.grammarFor(loaded, job.jsonSchema),
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
          const history: Token[] = promptTokens.slice(-repeatPenaltyWindow);
          const textStream = new TokenTextStream(loaded.model, promptTokens);
          const stops = new StopStringMatcher(job.stop);
          const { temperature, topK, topP, minP, seed, repeatPenalty } = job.sampling;
          const tokens = sequence.evaluate(toEvaluate.slice(prefill.evaluatedTokens), {
            temperature,
            topK,
            topP,
            minP,
            seed,
            grammarEvaluationState: grammarState,
            repeatPenalty:
              repeatPenalty !== undefined && repeatPenalty !== 1
                ? { penalty: repeatPenalty, punishTokens: () => history.slice(-repeatPenaltyWindow) }
                : undefined,
          });
          for await (const token of tokens) {
            if (completionTokens === 0) {
              prefillOver();
              this.hasGenerated = true;
              callbacks.onFirstToken?.();
            }
            completionTokens += 1;
            history.push(token);
            const step = stops.push(textStream.push(token));
            if (step.text.length > 0) {
              text += step.text;
              callbacks.onText(step.text);
            }
            if (step.stopped) break;
            if (signal.aborted) {
              finishReason = "cancelled";
              break;
            }
            if (completionTokens >= maxTokens) {
              finishReason = "length";
              break;
            }
          }
          // The end of the sequence came first: the last chunk was evaluated all the same.
          prefillOver();
          if (signal.aborted) finishReason = "cancelled";
          if (finishReason !== "cancelled") {
            const rest = stops.push(textStream.flush());
            const tail = rest.stopped ? rest.text : rest.text + stops.flush();
            if (tail.length > 0) {
              text += tail;
              callbacks.onText(tail);
            }
          }
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

  private tokenizeInput(loaded: Loaded, input: GenerationInput): Token[] {
    const { model } = loaded;
    let body: Token[];
    if (input.kind === "prompt") body = model.tokenize(input.prompt, false);
    else {
      if (loaded.chatTemplate === undefined)
        throw new ProtocolError(
          "E_BAD_REQUEST",
          "this model has no chat template: send 'prompt' instead of 'messages'",
        );
      body = model.tokenize(loaded.chatTemplate.render(input.messages), true);
    }
    const bos = model.tokens.bos;
    return bos !== null && model.tokens.shouldPrependBosToken && body[0] !== bos ? [bos, ...body] : body;
  }

  private async grammarFor(loaded: Loaded, schema: Record<string, unknown>): Promise<LlamaJsonSchemaGrammar<never>> {
    let grammarSchema: Record<string, unknown>;
    try {
      grammarSchema = toGrammarSchema(schema);
    } catch (error) {
      if (!(error instanceof JsonSchemaSubsetError)) throw error;
      throw new ProtocolError("E_BAD_SCHEMA", `json_schema is not supported: ${error.message}`);
    }
    const key = JSON.stringify(grammarSchema);
    let grammar = this.grammars.get(key);
    if (grammar === undefined) {
      grammar = loaded.llama.createGrammarForJsonSchema(grammarSchema as never) as Promise<
        LlamaJsonSchemaGrammar<never>
      >;
      this.grammars.set(key, grammar);
      if (this.grammars.size > grammarCacheSize) this.grammars.delete(this.grammars.keys().next().value as string);
    }
    try {
      return await grammar;
    } catch (error) {
      this.grammars.delete(key);
      throw new ProtocolError("E_BAD_SCHEMA", `json_schema is not supported: ${(error as Error).message}`);
    }
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

function flashAttentionOption(mode: "auto" | "on" | "off"): "auto" | boolean {
  return mode === "auto" ? "auto" : mode === "on";
}

function resolveChatTemplate(model: LlamaModel, override: string | undefined): ChatTemplate | undefined {
  const source =
    override !== undefined && override.length > 0
      ? override
      : (model.fileInfo.metadata.tokenizer?.chat_template as string | undefined);
  if (source === undefined) return undefined;
  const piece = (token: Token | null) => (token === null ? "" : model.detokenize([token], true));
  return new ChatTemplate(source, { bos: piece(model.tokens.bos), eos: piece(model.tokens.eos) });
}
