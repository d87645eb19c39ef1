/**
 * On a stop or a model unload: saves the conversations still resident in the sequences to disk, as
 * an eviction would have (SequenceStateStore.save: at least `minTokens`, within the disk bound, not
 * written again when a state on disk already covers them; a disk fault is counted, logged once and
 * never thrown), the most recently used first, so that after a restart or a swap back they are loaded
 * rather than evaluated again. Without this, every conversation resident at a stop would be
 * re-evaluated from its first token after the restart.
 *
 * `signal` bounds the time (a stop must end before systemd's TimeoutStopSec): no save starts after it
 * aborts, the conversations not started are counted as "unsaved", and the caller stops waiting. A save
 * already writing cannot be interrupted (llama.cpp's write), so `pending` says when it has ended:
 * the context must not be freed under it.
 */
import type { LlamaContextSequence } from "node-llama-cpp";
import type { SequenceStateStore } from "./SequenceStateStore.js";

export interface ResidentStatesSaving {
  /** Conversations worth saving that no save was started for before the signal aborted. */
  unsaved: number;
  /** A save was still writing when the signal aborted. */
  stillWriting: boolean;
  /** Settles once the last save started has ended (at once unless `stillWriting`). */
  pending: Promise<void>;
}

export async function saveResidentStates(
  sequences: readonly LlamaContextSequence[],
  states: SequenceStateStore,
  options: {
    /** Fewer tokens than this are not worth a disk write (backend.sequenceStateMinTokens). */
    minTokens: number;
    /** Runs work that takes the context's lock (see gatherSequencesIntoBatches.ts). */
    letIn: <T>(work: () => Promise<T>) => Promise<T>;
    signal?: AbortSignal | undefined;
    onLog?: ((level: "warn" | "error", message: string) => void) | undefined;
  },
): Promise<ResidentStatesSaving> {
  const { signal } = options;
  const worth = sequences.filter((sequence) => sequence.nextTokenIndex >= options.minTokens);
  let started = 0;
  let writing = false;
  const pending = (async () => {
    for (const sequence of worth) {
      if (signal?.aborted) return;
      started += 1;
      writing = true;
      try {
        await states.save(sequence, options.letIn);
      } finally {
        writing = false;
      }
    }
  })().catch((error: unknown) => {
    // save() keeps disk faults to itself; anything else must not fail a stop either.
    options.onLog?.("warn", `saving the resident sequence states stopped: ${(error as Error).message}`);
  });
  await endedOrAborted(pending, signal);
  const notStarted = worth.slice(started);
  for (const sequence of notStarted) states.countUnsaved(sequence.nextTokenIndex);
  return { unsaved: notStarted.length, stillWriting: writing, pending };
}

/** Resolves when `work` has settled or `signal` aborts, whichever comes first. */
function endedOrAborted(work: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (signal === undefined) return work;
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const onAbort = () => resolve();
    signal.addEventListener("abort", onAbort, { once: true });
    void work.finally(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    });
  });
}
