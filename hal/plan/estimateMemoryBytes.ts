/**
 * How much memory serving a TinyLlama-shaped model takes, for the plan: the same estimate the model
 * store uses for its fit checks (models/store/estimateFit: model file + f16 KV cache for every token
 * of every sequence + compute buffers + runtime), with TinyLlama's shape, since the plan knows only
 * the file's size.
 */
import type { ModelShapeSummary } from "../../models/catalog/modelCatalog.js";
import { estimateMemory } from "../../models/store/estimateFit.js";

/** TinyLlama 1.1B: 22 layers, 2048 wide, 32 query / 4 KV heads, 32,000 tokens. */
export const tinyLlamaShape: ModelShapeSummary = {
  layers: 22,
  embeddingLength: 2048,
  attentionHeads: 32,
  kvHeads: 4,
  vocabularySize: 32_000,
};

/** 22 layers × K and V × 256 values (4 KV heads × 64) × 2 bytes (f16) = 22,528 bytes per token. */
export const tinyLlamaKvBytesPerToken =
  tinyLlamaShape.layers *
  2 *
  tinyLlamaShape.kvHeads *
  (tinyLlamaShape.embeddingLength / tinyLlamaShape.attentionHeads) *
  2;

export interface MemoryEstimateInput {
  modelFileBytes: number;
  contextSize: number;
  parallelSequences: number;
}

export interface MemoryEstimate {
  totalBytes: number;
  modelBytes: number;
  kvCacheBytes: number;
  /** Compute buffers + runtime (Node.js, the daemon, the llama.cpp libraries). */
  overheadBytes: number;
}

export function estimateMemoryBytes(input: MemoryEstimateInput): MemoryEstimate {
  const estimate = estimateMemory(Math.max(0, input.modelFileBytes), tinyLlamaShape, {
    contextSize: input.contextSize,
    sequences: Math.max(1, input.parallelSequences),
  });
  return {
    totalBytes: estimate.totalBytes,
    modelBytes: estimate.modelBytes,
    kvCacheBytes: estimate.kvCacheBytes,
    overheadBytes: estimate.computeBufferBytes + estimate.runtimeOverheadBytes,
  };
}

/** Bytes as "812 MiB" / "7.6 GiB", for reasons. */
export function formatBytes(bytes: number): string {
  const mib = bytes / (1024 * 1024);
  return mib >= 1024 ? `${(mib / 1024).toFixed(1)} GiB` : `${Math.round(mib)} MiB`;
}
