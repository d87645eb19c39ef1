/**
 * The edge memory profile: how many sequences, how long a context, which KV cache type and which
 * batch size the board can afford, so that the whole daemon fits with room for the OS.
 *
 * The budget is what the kernel says a new process can have (MemAvailable), but never more than the
 * total less `osReserveBytes` (on a 1 GB Pi 4 the OS, sshd and the page cache need that room even
 * when MemAvailable says otherwise). When the configured shape does not fit, the plan gives up, in
 * this order, what costs the least: f16 KV → q8_0 (half the KV bytes; greedy text stays close,
 * bench/README.md), the 512-token batch → 128 (the logits buffer shrinks by 49 MiB; only prefill is
 * a little slower), sequences down to 2, the context down to 1024, one sequence, and last the context
 * down to 256. Settings the config fixes (kvCacheType, batchSize) are never changed.
 */
import { estimateMemoryBytes, formatBytes, type KvCacheType, type MemoryEstimate } from "./estimateMemoryBytes.js";

/** Left to the OS (kernel, sshd, journald, page cache for the binaries): ≥ 200 MB, as issue 21 asks. */
export const osReserveBytes = 200 * 1024 * 1024;
export const minimumContextSize = 256;
export const smallBatchSize = 128;
export const defaultBatchSize = 512;

export interface MemoryProfileInput {
  contextSize: number;
  parallelSequences: number;
  modelFileBytes: number;
  totalBytes: number | null;
  availableBytes: number | null;
  /** "auto" lets the plan choose. */
  kvCacheType: "auto" | KvCacheType;
  /** 0 lets the plan choose. */
  batchSize: number;
}

/**
 * The memory verdict, typed, so callers decide on it without reading the reasons' words:
 * `needBytes` is the estimate of the plan, `haveBytes` the budget (MemAvailable, at most MemTotal less
 * the OS reserve; null: unknown). "shrunk": the configured shape did not fit, a smaller one does.
 */
export type MemoryFit =
  | { kind: "fits" | "shrunk"; needBytes: number; haveBytes: number }
  | { kind: "unknown"; needBytes: number; haveBytes: null }
  | { kind: "too-large"; needBytes: number; haveBytes: number };

export interface MemoryProfile {
  contextSize: number;
  parallelSequences: number;
  kvCacheType: KvCacheType;
  batchSize: number;
  estimate: MemoryEstimate;
  /** The bytes the daemon may use: min(available, total − OS reserve); null when unknown. */
  budgetBytes: number | null;
  fits: boolean;
  fit: MemoryFit;
  reasons: string[];
}

interface Shape {
  contextSize: number;
  parallelSequences: number;
  kvCacheType: KvCacheType;
  batchSize: number;
}

export function planMemoryProfile(input: MemoryProfileInput): MemoryProfile {
  const kvFixed = input.kvCacheType !== "auto";
  const batchFixed = input.batchSize > 0;
  let shape: Shape = {
    contextSize: input.contextSize,
    parallelSequences: Math.max(1, input.parallelSequences),
    kvCacheType: input.kvCacheType === "auto" ? "f16" : input.kvCacheType,
    batchSize: batchFixed ? input.batchSize : defaultBatchSize,
  };
  const estimate = (s: Shape) => estimateMemoryBytes({ modelFileBytes: input.modelFileBytes, ...s });
  const budget = budgetBytes(input.totalBytes, input.availableBytes);
  const describeShape = (s: Shape) =>
    `${s.parallelSequences} sequence${s.parallelSequences === 1 ? "" : "s"} × ${s.contextSize} tokens, ${s.kvCacheType} KV, batch ${s.batchSize}`;
  const configured = { ...shape };
  const result = (s: Shape, fits: boolean, reasons: string[]): MemoryProfile => {
    const needBytes = estimate(s).totalBytes;
    const unchanged =
      s.contextSize === configured.contextSize &&
      s.parallelSequences === configured.parallelSequences &&
      s.kvCacheType === configured.kvCacheType &&
      s.batchSize === configured.batchSize;
    const fit: MemoryFit =
      budget === null
        ? { kind: "unknown", needBytes, haveBytes: null }
        : { kind: !fits ? "too-large" : unchanged ? "fits" : "shrunk", needBytes, haveBytes: budget };
    return { ...s, estimate: estimate(s), budgetBytes: budget, fits, fit, reasons };
  };
  if (budget === null)
    return result(shape, true, [
      `memory available unknown: ${describeShape(shape)} kept unchecked, needs ${describeBudget(estimate(shape))}`,
    ]);
  const budgetWords = `${formatBytes(budget)} budget (${describeAvailable(input.totalBytes, input.availableBytes)})`;
  if (estimate(shape).totalBytes <= budget)
    return result(shape, true, [
      `memory: ${describeShape(shape)} needs ${describeBudget(estimate(shape))} of a ${budgetWords} → fits`,
    ]);
  const first = `memory: ${describeShape(shape)} needs ${describeBudget(estimate(shape))}, more than a ${budgetWords}`;
  const steps: Array<(s: Shape) => Shape | null> = [
    (s) => (kvFixed || s.kvCacheType === "q8_0" ? null : { ...s, kvCacheType: "q8_0" }),
    (s) => (batchFixed || s.batchSize <= smallBatchSize ? null : { ...s, batchSize: smallBatchSize }),
    (s) => (s.parallelSequences > 2 ? { ...s, parallelSequences: Math.max(2, s.parallelSequences >> 1) } : null),
    (s) => (s.contextSize > 1024 ? { ...s, contextSize: Math.max(1024, s.contextSize >> 1) } : null),
    (s) => (s.parallelSequences > 1 ? { ...s, parallelSequences: 1 } : null),
    (s) =>
      s.contextSize > minimumContextSize
        ? { ...s, contextSize: Math.max(minimumContextSize, s.contextSize >> 1) }
        : null,
  ];
  for (const step of steps) {
    for (let next = step(shape); next !== null; next = step(shape)) {
      shape = next;
      if (estimate(shape).totalBytes <= budget)
        return result(shape, true, [`${first} → ${describeShape(shape)} (${describeBudget(estimate(shape))})`]);
    }
  }
  return result(shape, false, [
    `warning: ${first}; even ${describeShape(shape)} needs ${describeBudget(estimate(shape))} → expect swapping or the OOM killer (use a smaller model)`,
  ]);
}

function budgetBytes(total: number | null, available: number | null): number | null {
  if (available === null && total === null) return null;
  const reserveLimited = total === null ? Number.POSITIVE_INFINITY : total - osReserveBytes;
  return Math.max(0, Math.min(available ?? Number.POSITIVE_INFINITY, reserveLimited));
}

function describeAvailable(total: number | null, available: number | null): string {
  const parts = [];
  if (available !== null) parts.push(`${formatBytes(available)} available`);
  if (total !== null) parts.push(`${formatBytes(total)} total less ${formatBytes(osReserveBytes)} for the OS`);
  return parts.join(", ");
}

/** "≈748 MiB (model 525 MiB + KV 88 MiB + compute 17 MiB + runtime 90 MiB)". */
export function describeBudget(e: MemoryEstimate): string {
  return `≈${formatBytes(e.totalBytes)} (model ${formatBytes(e.modelBytes)} + KV cache ${formatBytes(e.kvCacheBytes)} + compute buffers ${formatBytes(e.computeBufferBytes)} + runtime ${formatBytes(e.runtimeBytes)})`;
}
