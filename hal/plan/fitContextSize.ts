/**
 * Shrinks the context (halving) until the model, its KV cache and the runtime fit into the memory the
 * kernel says is available, never below 256 tokens; says what it did and why.
 */
import { estimateMemoryBytes, formatBytes } from "./estimateMemoryBytes.js";

export const minimumContextSize = 256;

/**
 * The memory verdict, typed, so callers decide on it without reading the reasons' words:
 * `needBytes` is the estimate at the chosen context, `haveBytes` the memory available (null: unknown).
 */
export type MemoryFit =
  | { kind: "fits" | "shrunk"; needBytes: number; haveBytes: number }
  | { kind: "unknown"; needBytes: number; haveBytes: null }
  | { kind: "too-large"; needBytes: number; haveBytes: number };

export interface ContextFit {
  contextSize: number;
  memory: MemoryFit;
  reasons: string[];
}

export function fitContextSize(input: {
  contextSize: number;
  parallelSequences: number;
  modelFileBytes: number;
  availableBytes: number | null;
}): ContextFit {
  const { parallelSequences, modelFileBytes, availableBytes } = input;
  const estimate = (contextSize: number) => estimateMemoryBytes({ modelFileBytes, contextSize, parallelSequences });
  const describe = (contextSize: number) => {
    const e = estimate(contextSize);
    return `≈${formatBytes(e.totalBytes)} (model ${formatBytes(e.modelBytes)} + KV cache ${formatBytes(e.kvCacheBytes)} + compute buffers and runtime ${formatBytes(e.overheadBytes)})`;
  };
  const shape = (contextSize: number) =>
    `context ${contextSize} × ${parallelSequences} sequence${parallelSequences === 1 ? "" : "s"}`;
  if (availableBytes === null)
    return {
      contextSize: input.contextSize,
      memory: { kind: "unknown", needBytes: estimate(input.contextSize).totalBytes, haveBytes: null },
      reasons: [
        `memory available unknown: ${shape(input.contextSize)} kept unchecked, needs ${describe(input.contextSize)}`,
      ],
    };
  if (estimate(input.contextSize).totalBytes <= availableBytes)
    return {
      contextSize: input.contextSize,
      memory: { kind: "fits", needBytes: estimate(input.contextSize).totalBytes, haveBytes: availableBytes },
      reasons: [
        `memory: ${shape(input.contextSize)} needs ${describe(input.contextSize)}, ${formatBytes(availableBytes)} available → fits`,
      ],
    };
  let contextSize = input.contextSize;
  while (contextSize > minimumContextSize && estimate(contextSize).totalBytes > availableBytes)
    contextSize = Math.max(minimumContextSize, Math.floor(contextSize / 2));
  const fits = estimate(contextSize).totalBytes <= availableBytes;
  const first = `memory: ${shape(input.contextSize)} needs ${describe(input.contextSize)} but only ${formatBytes(availableBytes)} is available`;
  const needBytes = estimate(contextSize).totalBytes;
  if (fits)
    return {
      contextSize,
      memory: { kind: "shrunk", needBytes, haveBytes: availableBytes },
      reasons: [`${first} → context shrunk to ${contextSize} (${describe(contextSize)})`],
    };
  return {
    contextSize,
    memory: { kind: "too-large", needBytes, haveBytes: availableBytes },
    reasons: [
      `warning: ${first}; even context ${contextSize} needs ${describe(contextSize)} → expect swapping or the OOM killer (use a smaller model or fewer parallel sequences)`,
    ],
  };
}
