/**
 * Hands out the context's sequences (one per concurrent generation) so that a request lands on the
 * sequence that already holds the longest prefix of its prompt: the same session's sequence first,
 * then whichever cached prefix matches best — with or without a session id, so a client that re-sends
 * its growing history (any transport: the pool sits below them all) gets its conversation's sequence.
 * That prefix is not evaluated again.
 *
 * A prefix counts only where using it costs little of what the sequence holds: it keeps at least half
 * of the sequence's tokens, drops fewer than `minKeepTokens`, or covers at least half of the prompt
 * and `minKeepTokens`. Otherwise two conversations that merely share a template's first tokens would
 * overwrite each other; the prompt instead takes the sequence used longest ago (an empty one first),
 * so the most recently used conversations stay resident (LRU), and what it overwrites can be saved to
 * disk first (SequenceStateStore).
 * With reuse off (benchmarks against a server without a prompt cache) every lease starts from the
 * first token, on the least recently used sequence.
 */
import type { LlamaContextSequence, Token } from "node-llama-cpp";
import { commonPrefixLength } from "./commonPrefixLength.js";

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

interface Scored {
  slot: Slot;
  prefix: number;
  held: number;
}

export class SequencePool {
  private readonly slots: Slot[];
  private clock = 0;

  constructor(
    sequences: readonly LlamaContextSequence[],
    private readonly reusePrefixes = true,
    /** Below this many tokens, what a sequence would lose is not worth keeping (nor saving). */
    private readonly minKeepTokens = 64,
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
    const scored: Scored[] = free.map((slot) => ({
      slot,
      prefix: this.reusePrefixes ? commonPrefixLength(slot.sequence.contextTokens, promptTokens) : 0,
      held: slot.sequence.contextTokens.length,
    }));
    const best = this.reusePrefixes
      ? (this.sameSession(scored, session) ?? this.bestPrefix(scored, promptTokens.length) ?? leastRecent(scored))
      : leastRecent(scored);
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

  /**
   * The free sequences that hold tokens, the most recently used first: what a stop saves to disk, in
   * the order the conversations are most likely to come back.
   */
  residentSequences(): LlamaContextSequence[] {
    return this.slots
      .filter((slot) => !slot.busy && slot.sequence.nextTokenIndex > 0)
      .sort((a, b) => b.lastUsed - a.lastUsed)
      .map((slot) => slot.sequence);
  }

  private sameSession(scored: Scored[], session: string | undefined): Scored | undefined {
    return session === undefined ? undefined : scored.find((candidate) => candidate.slot.session === session);
  }

  private bestPrefix(scored: Scored[], promptLength: number): Scored | undefined {
    const worth = scored.filter(
      ({ prefix, held }) =>
        prefix > 0 &&
        (2 * prefix >= held ||
          held - prefix < this.minKeepTokens ||
          (prefix >= this.minKeepTokens && 2 * prefix >= promptLength)),
    );
    worth.sort((a, b) => b.prefix - a.prefix || a.held - b.held || b.slot.lastUsed - a.slot.lastUsed);
    return worth[0];
  }
}

/** The sequence to overwrite: an empty one, else one without a session, else the least recently used. */
function leastRecent(scored: Scored[]): Scored {
  const sorted = [...scored].sort(
    (a, b) =>
      Number(a.held > 0) - Number(b.held > 0) ||
      Number(a.slot.session !== undefined) - Number(b.slot.session !== undefined) ||
      a.slot.lastUsed - b.slot.lastUsed,
  );
  const first = sorted[0];
  if (first === undefined) throw new Error("unreachable: no free sequence scored");
  return first;
}
