/**
 * The context a loaded model serves from: one sequence per concurrent generation, the planned size,
 * batch and threads, the KV cache type the model's heads can hold, and flash attention as configured.
 */
import type { LlamaContext, LlamaModel } from "node-llama-cpp";
import type { BackendLoadOptions } from "../Backend.js";
import { kvCacheTypeForHeads, q8BlockSize } from "./kvCacheTypeForHeads.js";

export async function createLlamaContext(
  model: LlamaModel,
  options: BackendLoadOptions,
  settings: {
    /** llama.cpp's flash attention: "auto" (as llama-server), "on" or "off". */
    flashAttention: "auto" | "on" | "off";
    onLog?: ((level: "warn" | "error", message: string) => void) | undefined;
  },
): Promise<LlamaContext> {
  const kvCacheType = kvCacheTypeForHeads(options.kvCacheType, model.fileInfo.architectureMetadata);
  if (kvCacheType !== options.kvCacheType)
    settings.onLog?.(
      "warn",
      `q8_0 KV cache needs attention heads a multiple of ${q8BlockSize} wide; this model's are not: using f16`,
    );
  return model.createContext({
    contextSize: options.contextSize,
    sequences: options.parallelSequences,
    threads: { ideal: options.threads, min: options.threads },
    // A quantized V cache needs flash attention in llama.cpp: q8_0 asks for it unless forced off.
    flashAttention:
      kvCacheType === "q8_0" && settings.flashAttention === "auto"
        ? true
        : flashAttentionOption(settings.flashAttention),
    ...(kvCacheType === "q8_0"
      ? { experimentalKvCacheKeyType: "Q8_0" as const, experimentalKvCacheValueType: "Q8_0" as const }
      : {}),
    ...(options.batchSize ? { batchSize: options.batchSize } : {}),
    createSignal: options.signal,
  });
}

function flashAttentionOption(mode: "auto" | "on" | "off"): "auto" | boolean {
  return mode === "auto" ? "auto" : mode === "on";
}
