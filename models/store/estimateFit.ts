/**
 * Will a model fit the board's memory? An estimate of what llama.cpp needs at a context size and
 * number of sequences, checked against the memory a new process can have, with a smaller catalog
 * model named when it does not fit.
 *
 *   model weights       the file size (weights are mmapped and must stay resident to run at speed)
 * + KV cache            layers × 2 (K and V) × kvHeads × headDim × 2 bytes (f16) × context × sequences
 * + compute buffers     ubatch × (vocabulary + 2 × embedding) × 4 bytes, ubatch = min(512, context × sequences)
 *                       (≈ the 66.5 MiB llama.cpp reports for TinyLlama at 512-token batches: dominated by logits)
 * + runtime overhead    64 MiB: Node.js, the daemon and the llama.cpp libraries
 *
 * "available" is MemAvailable: what the OS and other programs already use is not counted as free.
 */
import type { CatalogEntry, ModelCatalog, ModelShapeSummary } from "../catalog/modelCatalog.js";
import { ModelStoreError } from "./ModelStoreError.js";

export interface BoardMemory {
  totalBytes: number;
  /** Memory a new process can use without swapping (Linux MemAvailable). */
  availableBytes: number;
}

export interface FitRequest {
  /** Context size in tokens per sequence. */
  contextSize: number;
  /** Concurrent sequences (= scheduler concurrency). Defaults to 1. */
  sequences?: number;
}

export interface MemoryEstimate {
  modelBytes: number;
  kvCacheBytes: number;
  computeBufferBytes: number;
  runtimeOverheadBytes: number;
  totalBytes: number;
}

export interface FitReport {
  model: string;
  fits: boolean;
  estimate: MemoryEstimate;
  memory: BoardMemory;
  contextSize: number;
  sequences: number;
  /** Catalog models of the same kind that do fit, best (largest) first; empty when `fits`. */
  suggestions: string[];
  message: string;
}

export const runtimeOverheadBytes = 64 * 1024 * 1024;

export function estimateMemory(modelBytes: number, shape: ModelShapeSummary, request: FitRequest): MemoryEstimate {
  const sequences = request.sequences ?? 1;
  const headDimension = shape.embeddingLength / shape.attentionHeads;
  const kvCacheBytes = shape.layers * 2 * shape.kvHeads * headDimension * 2 * request.contextSize * sequences;
  const ubatch = Math.min(512, request.contextSize * sequences);
  const computeBufferBytes = ubatch * (shape.vocabularySize + 2 * shape.embeddingLength) * 4;
  return {
    modelBytes,
    kvCacheBytes,
    computeBufferBytes,
    runtimeOverheadBytes,
    totalBytes: modelBytes + kvCacheBytes + computeBufferBytes + runtimeOverheadBytes,
  };
}

/**
 * Checks a catalog model (with the real file size when it is on disk) against the board's memory.
 * When it does not fit, names the catalog models of the same format and template that do.
 */
export function checkCatalogModelFit(
  entry: CatalogEntry,
  catalog: ModelCatalog,
  memory: BoardMemory,
  request: FitRequest,
  options: { modelBytes?: number } = {},
): FitReport {
  const sequences = request.sequences ?? 1;
  const estimate = estimateMemory(
    options.modelBytes ?? entry.sizeBytes ?? entry.approximateSizeBytes,
    entry.shape,
    request,
  );
  const fits = estimate.totalBytes <= memory.availableBytes;
  const suggestions = fits
    ? []
    : catalog.models
        .filter(
          (other) =>
            other.name !== entry.name && other.format === entry.format && other.chatTemplate === entry.chatTemplate,
        )
        .map((other) => ({
          other,
          needed: estimateMemory(other.sizeBytes ?? other.approximateSizeBytes, other.shape, request).totalBytes,
        }))
        .filter(({ needed }) => needed <= memory.availableBytes)
        .sort((a, b) => b.needed - a.needed)
        .map(({ other, needed }) => `${other.name} (≈${gigabytes(needed)} GB)`);
  const names = suggestions.map((s) => s.replace(/ \(.*$/, ""));
  return {
    model: entry.name,
    fits,
    estimate,
    memory,
    contextSize: request.contextSize,
    sequences,
    suggestions: names,
    message: fits
      ? `${entry.name} fits: needs ≈${gigabytes(estimate.totalBytes)} GB of the ${gigabytes(memory.availableBytes)} GB available`
      : `${entry.name} does not fit this board: it needs ≈${gigabytes(estimate.totalBytes)} GB ${describeEstimate(estimate, request.contextSize, sequences)} ` +
        `but only ${gigabytes(memory.availableBytes)} GB of ${gigabytes(memory.totalBytes)} GB is available ` +
        `(the OS and other programs use ${gigabytes(memory.totalBytes - memory.availableBytes)} GB). ` +
        (suggestions.length > 0
          ? `Use a smaller model: ${suggestions.join(" or ")}.`
          : "No catalog model of this kind fits; lower the context size or the number of sequences."),
  };
}

/** Throws `E_MODEL_TOO_LARGE` with the report's message when the model does not fit. */
export function assertCatalogModelFits(...args: Parameters<typeof checkCatalogModelFit>): FitReport {
  const report = checkCatalogModelFit(...args);
  if (!report.fits) {
    throw new ModelStoreError("E_MODEL_TOO_LARGE", report.message, {
      neededBytes: report.estimate.totalBytes,
      availableBytes: report.memory.availableBytes,
      suggestions: report.suggestions,
    });
  }
  return report;
}

export function describeEstimate(estimate: MemoryEstimate, contextSize: number, sequences: number): string {
  return (
    `(model ${gigabytes(estimate.modelBytes)} GB + KV cache ${megabytes(estimate.kvCacheBytes)} MB at ${contextSize} tokens × ${sequences} ` +
    `sequence${sequences === 1 ? "" : "s"} + compute buffers ${megabytes(estimate.computeBufferBytes)} MB + runtime ${megabytes(estimate.runtimeOverheadBytes)} MB)`
  );
}

function gigabytes(bytes: number): string {
  return (bytes / 1e9).toFixed(2);
}

function megabytes(bytes: number): string {
  return (bytes / 1e6).toFixed(0);
}
