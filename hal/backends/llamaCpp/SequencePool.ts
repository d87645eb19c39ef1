/**
 * Hands out the context's sequences (one per concurrent generation) so that a request lands on the
 * sequence that already holds the longest prefix of its prompt: the same session's sequence first,
 * then whichever cached prefix matches best. That prefix is not evaluated again. With reuse off (for
 * benchmarks against a server without a prompt cache) every lease starts from the first token, on the
 * least recently used sequence.
 */
import type { LlamaContextSequence, Token } from "node-llama-cpp";

interface Slot {
  sequence: LlamaContextSequence;
  busy: boolean;
  session: string | undefined;
  lastUsed: number;
}

export interface LeasedSequence {
  sequence: LlamaContextSequence;
  /** Tokens at the start of the prompt that the sequence already holds. */
  reusableTokens: number;
  release(session: string | undefined): void;
}

export class SequencePool {
  private readonly slots: Slot[];
  private clock = 0;

  constructor(
    sequences: readonly LlamaContextSequence[],
    private readonly reusePrefixes = true,
  ) {
    this.slots = sequences.map((sequence) => ({ sequence, busy: false, session: undefined, lastUsed: 0 }));
  }

  get size(): number {
    return this.slots.length;
  }

  acquire(session: string | undefined, promptTokens: readonly Token[]): LeasedSequence {
    const free = this.slots.filter((slot) => !slot.busy);
    if (free.length === 0)
      throw new Error("no free sequence: the scheduler ran more jobs than the backend has sequences");
    const scored = free.map((slot) => ({
      slot,
      prefix: this.reusePrefixes ? commonPrefixLength(slot.sequence.contextTokens, promptTokens) : 0,
    }));
    scored.sort(
      (a, b) =>
        (this.reusePrefixes ? 0 : a.slot.lastUsed - b.slot.lastUsed) ||
        Number(b.slot.session !== undefined && b.slot.session === session) -
          Number(a.slot.session !== undefined && a.slot.session === session) ||
        b.prefix - a.prefix ||
        Number(a.slot.session !== undefined) - Number(b.slot.session !== undefined) ||
        a.slot.lastUsed - b.slot.lastUsed,
    );
    const best = scored[0];
    if (best === undefined) throw new Error("unreachable: no scored sequence");
    best.slot.busy = true;
    return {
      sequence: best.slot.sequence,
      reusableTokens: best.prefix,
      release: (sessionAfter) => {
        best.slot.busy = false;
        best.slot.session = sessionAfter;
        best.slot.lastUsed = ++this.clock;
      },
    };
  }
}

function commonPrefixLength(a: readonly Token[], b: readonly Token[]): number {
  const length = Math.min(a.length, b.length);
  let index = 0;
  while (index < length && a[index] === b[index]) index++;
  return index;
}
