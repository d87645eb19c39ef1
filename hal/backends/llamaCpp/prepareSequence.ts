/**
 * Readies a leased sequence for a prompt: keeps the prefix it already holds, or loads a longer one
 * from disk (SequenceStateStore), saving first what would be overwritten when that is worth keeping,
 * and erases the tokens after the prefix. Returns how many prompt tokens need no evaluation.
 */
import type { LlamaContextSequence, Token } from "node-llama-cpp";
import type { BatchGathering } from "./gatherSequencesIntoBatches.js";
import type { SequenceStateStore } from "./SequenceStateStore.js";

export interface PreparedSequence {
  /** Prompt tokens the sequence holds now (at most the prompt's length − 1: one is evaluated to sample). */
  reusedTokens: number;
  /** Of those, loaded from disk. */
  restoredTokens: number;
}

export async function prepareSequence(
  sequence: LlamaContextSequence,
  promptTokens: readonly Token[],
  reusableTokens: number,
  options: {
    batching: BatchGathering | undefined;
    states: SequenceStateStore | undefined;
    /** Fewer tokens than this are not worth a disk write or read. */
    minStateTokens: number;
  },
): Promise<PreparedSequence> {
  const { batching, states, minStateTokens } = options;
  // Takes the context's lock: let in at the next step, not after the running generations.
  const letIn = <T>(work: () => Promise<T>): Promise<T> => (batching ? batching.letIn(work) : work());
  let held = reusableTokens;
  let restoredTokens = 0;
  if (states !== undefined) {
    const lost = sequence.nextTokenIndex - reusableTokens;
    const stored = states.bestMatch(promptTokens);
    const restore = stored !== undefined && stored.prefix - reusableTokens >= minStateTokens;
    // The state to load must not be the one evicted to make room for the state saved first.
    const unpin = restore && stored !== undefined ? states.pin(stored.name) : undefined;
    try {
      if (lost >= minStateTokens) await states.save(sequence, letIn);
      if (restore && stored !== undefined) {
        const restored = await states.restore(stored.name, sequence, letIn);
        held = restored ? Math.min(stored.prefix, sequence.nextTokenIndex) : 0;
        if (restored) restoredTokens = held;
      }
    } finally {
      unpin?.();
    }
  }
  // Keep at least one prompt token to evaluate: its logits sample the first new token.
  const reusedTokens = Math.min(held, promptTokens.length - 1);
  if (sequence.nextTokenIndex > reusedTokens)
    await letIn(() => sequence.eraseContextTokenRanges([{ start: reusedTokens, end: sequence.nextTokenIndex }]));
  return { reusedTokens, restoredTokens: Math.min(restoredTokens, reusedTokens) };
}
