/**
 * Evaluates a prompt into a sequence a chunk at a time, so that a long prefill reports progress and
 * can be stopped.
 *
 * node-llama-cpp 3.22.1 evaluates the tokens handed to `sequence.evaluate` in batches of the context's
 * batch size, but as one queued decode: nothing comes back, and no abort is looked at, until the last
 * batch is done and the first new token is sampled. A 1,500-token prompt on a Raspberry Pi 4 is
 * minutes of that — a cancel or a deadline could not end it, and the liveness check behind systemd's
 * watchdog saw no progress. So every chunk but the last goes through
 * `evaluateWithoutGeneratingNewTokens` (no logits, no sampling) on its own; between chunks the signal
 * is looked at and progress reported. The last chunk (at most `chunkTokens`) is left to the caller's
 * `sequence.evaluate`, whose last token's logits sample the first new token. Each chunk is queued like
 * any decode, so it shares the context's batches with the other sequences' tokens (the batching hook
 * in gatherSequencesIntoBatches.ts still applies); a chunk needs no context lock of its own.
 *
 * The chunks evaluated before an abort stay in the sequence: a retry of the same prompt (or the same
 * session) reuses them as a prefix (SequencePool).
 */
import type { LlamaContextSequence, Token } from "node-llama-cpp";
import type { PrefillProgress } from "../Backend.js";

export interface ChunkedPrefillOutcome {
  /** Tokens evaluated here (the leading chunks; the last chunk is the caller's). */
  evaluatedTokens: number;
  /** The signal aborted between two chunks: the prefill stopped there. */
  aborted: boolean;
}

export async function prefillInChunks(
  sequence: LlamaContextSequence,
  tokens: readonly Token[],
  chunkTokens: number,
  signal: AbortSignal,
  onProgress?: (progress: PrefillProgress) => void,
): Promise<ChunkedPrefillOutcome> {
  const chunk = Math.max(1, Math.floor(chunkTokens));
  const report = (evaluatedTokens: number) =>
    onProgress?.({
      promptTokens: tokens.length,
      evaluatedTokens,
      nextChunkTokens: Math.min(chunk, tokens.length - evaluatedTokens),
    });
  let evaluated = 0;
  report(evaluated);
  while (tokens.length - evaluated > chunk) {
    await sequence.evaluateWithoutGeneratingNewTokens(tokens.slice(evaluated, evaluated + chunk) as Token[]);
    evaluated += chunk;
    report(evaluated);
    if (signal.aborted) return { evaluatedTokens: evaluated, aborted: true };
  }
  return { evaluatedTokens: evaluated, aborted: false };
}
