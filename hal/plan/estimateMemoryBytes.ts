/**
 * How much memory serving a TinyLlama-shaped model takes, for the plan: the model store's estimate
 * (models/store/estimateFit) made exact for what the plan chooses — the KV cache type, the batch
 * size — and with the daemon's measured runtime, with TinyLlama's shape, since the plan knows only
 * the file's size.
 */
import type { ModelShapeSummary } from "../../models/catalog/modelCatalog.js";

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

export type KvCacheType = "f16" | "q8_0";

/** Bytes per KV element: f16 2; q8_0 blocks of 32 values in 34 bytes. */
export const kvBytesPerElement: Record<KvCacheType, number> = { f16: 2, q8_0: 34 / 32 };

/**
 * What the daemon's process holds beyond the model, the KV cache and llama.cpp's compute buffers:
 * Node.js (V8 heap, code, libnode), the daemon's modules and the llama.cpp libraries (≈63 MiB of it
 * file-backed), resident anonymous + file-backed pages at the peak of a full batch on every sequence.
 * Measured (bench/README.md, "Memory"): the daemon's peak RSS less model, KV and compute buffers was
 * 141–154 MiB for three plans on x86-64 (Node 22); 96 MiB, the idle figure, underestimated by 6 %.
 */
export const daemonRuntimeBytes = 144 * 1024 * 1024;

export interface MemoryEstimateInput {
  modelFileBytes: number;
  contextSize: number;
  parallelSequences: number;
  /** Default f16. */
  kvCacheType?: KvCacheType;
  /** Tokens per batch (n_ubatch); default 512 (or the whole context when smaller). */
  batchSize?: number;
}

export interface MemoryEstimate {
  totalBytes: number;
  modelBytes: number;
  kvCacheBytes: number;
  computeBufferBytes: number;
  runtimeBytes: number;
  /** Compute buffers + runtime. */
  overheadBytes: number;
}

/**
 * model file (read into memory once: backend.useMmap is off) + KV cache (layers × K and V × KV
 * width × bytes per element × tokens × sequences) + compute buffers (one ubatch of logits and two
 * embedding-wide rows per token, f32) + the daemon's runtime.
 */
export function estimateMemoryBytes(input: MemoryEstimateInput): MemoryEstimate {
  const sequences = Math.max(1, input.parallelSequences);
  const shape = tinyLlamaShape;
  const kvWidth = shape.kvHeads * (shape.embeddingLength / shape.attentionHeads);
  const kvCacheBytes = Math.ceil(
    shape.layers * 2 * kvWidth * kvBytesPerElement[input.kvCacheType ?? "f16"] * input.contextSize * sequences,
  );
  const ubatch = Math.min(input.batchSize ?? 512, input.contextSize * sequences);
  const computeBufferBytes = ubatch * (shape.vocabularySize + 2 * shape.embeddingLength) * 4;
  const modelBytes = Math.max(0, input.modelFileBytes);
  return {
    totalBytes: modelBytes + kvCacheBytes + computeBufferBytes + daemonRuntimeBytes,
    modelBytes,
    kvCacheBytes,
    computeBufferBytes,
    runtimeBytes: daemonRuntimeBytes,
    overheadBytes: computeBufferBytes + daemonRuntimeBytes,
  };
}

/** Bytes as "812 MiB" / "7.6 GiB", for reasons. */
export function formatBytes(bytes: number): string {
  const mib = bytes / (1024 * 1024);
  return mib >= 1024 ? `${(mib / 1024).toFixed(1)} GiB` : `${Math.round(mib)} MiB`;
}
