/**
 * How much memory serving a TinyLlama-shaped model takes: the model file (mapped whole), the f16 KV cache
 * (22 layers × K and V × 256 values per token (4 KV heads × 64) × 2 bytes = 22,528 bytes per token, for
 * every token of every parallel sequence) and about 150 MiB for the runtime (compute buffers, Node.js).
 */

export const tinyLlamaKvBytesPerToken = 22 * 2 * (4 * 64) * 2;
export const runtimeOverheadBytes = 150 * 1024 * 1024;

export interface MemoryEstimateInput {
  modelFileBytes: number;
  contextSize: number;
  parallelSequences: number;
}

export interface MemoryEstimate {
  totalBytes: number;
  modelBytes: number;
  kvCacheBytes: number;
  overheadBytes: number;
}

export function estimateMemoryBytes(input: MemoryEstimateInput): MemoryEstimate {
  const kvCacheBytes = tinyLlamaKvBytesPerToken * input.contextSize * Math.max(1, input.parallelSequences);
  const modelBytes = Math.max(0, input.modelFileBytes);
  return {
    totalBytes: modelBytes + kvCacheBytes + runtimeOverheadBytes,
    modelBytes,
    kvCacheBytes,
    overheadBytes: runtimeOverheadBytes,
  };
}

/** Bytes as "812 MiB" / "7.6 GiB", for reasons. */
export function formatBytes(bytes: number): string {
  const mib = bytes / (1024 * 1024);
  return mib >= 1024 ? `${(mib / 1024).toFixed(1)} GiB` : `${Math.round(mib)} MiB`;
}
