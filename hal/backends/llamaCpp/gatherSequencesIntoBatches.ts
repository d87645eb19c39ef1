/**
 * Makes node-llama-cpp decode every running sequence of a context in the same batch.
 *
 * node-llama-cpp 3.22.1 decodes the queued tokens of all sequences of a context together, one batch
 * per step, in a loop that starts the next batch as soon as the previous one's tokens are sampled and
 * at least one sequence has queued its next token. A sequence queues its next token only after its
 * generator has handed the sampled token to its consumer and been resumed — a longer chain of promise
 * callbacks than the loop's own. So the last sequence to be sampled never makes it into the next
 * batch: with 4 streams the batches hold 3 tokens, one stream always runs a step behind and the
 * aggregate rate is that of about 3 streams (measured in bench/README.md).
 *
 * And a batch that does hold every sequence is still not decoded in one pass when its tokens are not
 * in sequence-id order: node-llama-cpp gives each context one KV stream per sequence (kv_unified =
 * false), and llama.cpp then splits a batch into micro-batches of *consecutive, increasing* sequence
 * ids (llama_batch_allocr::split_equal, sequential). node-llama-cpp queues tokens in the order the
 * sequences' generators resume, e.g. 1,3,2,0 — three micro-batches, each paying for a full read of
 * the weights, instead of one.
 *
 * So the hook (1) waits, once per batch, for one turn of the event loop (setImmediate) after the
 * batch's tokens are sampled and before the loop looks at the queue again: by then every sequence
 * whose token was just sampled has queued its next one (unless its consumer waits on I/O first); and
 * (2) keeps the decode queue sorted by sequence id. It hooks node-llama-cpp internals (the
 * `afterBatchAction` it awaits for each decoded sequence, its `_queuedDecodes` array), so it checks
 * that they are there and reports when they are not (the daemon then decodes as node-llama-cpp does).
 *
 * node-llama-cpp's public batching options cannot do this (measured; docs/dependencies.md):
 * `batching.dispatchSchedule` only times the first dispatch of an idle context, while the batch loop
 * (dispatchPendingBatch) runs its next step at once under the context's lock; and
 * `batching.itemPrioritizationStrategy` is synchronous and sees neither sequence ids nor the tokens
 * still to come. This is the one file that touches node-llama-cpp's private members, and it refuses to
 * load under any node-llama-cpp but the one it was written for (assertHookedNodeLlamaCppVersion).
 */
import type { LlamaContext } from "node-llama-cpp";
import { installedNodeLlamaCppVersion } from "./nodeLlamaCppPackage.js";

/**
 * The node-llama-cpp release whose private decode queue this file hooks (and whose addon the persistent
 * threadpool library interposes on). package.json pins exactly this version; docs/dependencies.md says
 * what to re-check before changing both.
 */
export const hookedNodeLlamaCppVersion = "3.22.1";

/** Throws, naming both versions, unless `installed` is the node-llama-cpp this file was written for. */
export function assertHookedNodeLlamaCppVersion(installed: string): void {
  if (installed === hookedNodeLlamaCppVersion) return;
  throw new Error(
    `node-llama-cpp ${installed} is installed, but tinyllamad was written for node-llama-cpp ${hookedNodeLlamaCppVersion} ` +
      "exactly: hal/backends/llamaCpp/gatherSequencesIntoBatches.ts hooks its private decode queue " +
      "(_decodeTokens, _queuedDecodes, _scheduleDecode) and the persistent threadpool library replaces its llama_decode. " +
      `Install node-llama-cpp@${hookedNodeLlamaCppVersion} (npm ci), or re-check both against the new version ` +
      "(docs/dependencies.md) and then change hookedNodeLlamaCppVersion and package.json together.",
  );
}

// At load, so a mismatch stops the daemon at start rather than mis-batching (or crashing) mid-generation.
assertHookedNodeLlamaCppVersion(installedNodeLlamaCppVersion());

type AfterBatchAction = (sequenceStateLength: number) => Promise<void> | void;
type LogitDataMapper = (batchLogitIndex: number, tokenIndex: number) => unknown;

interface QueuedDecodeRequest {
  afterBatchAction?: AfterBatchAction | undefined;
}

/** The part of node-llama-cpp's LlamaContext internals (as of hookedNodeLlamaCppVersion) the hook relies on. */
interface ContextWithDecodeQueue {
  _decodeTokens(request: QueuedDecodeRequest, logitDataMapper: LogitDataMapper): Promise<unknown>;
  _queuedDecodes: { sequenceId: number }[];
  _scheduleDecode(): void;
}

/** What the hook on one context offers its backend. */
export interface BatchGathering {
  /**
   * Runs `work` that takes the context's lock (erasing a sequence's old tokens, say) at the next step
   * rather than after every running generation has finished; see letLockWaitersIn below.
   */
  letIn<T>(work: () => Promise<T>): Promise<T>;
}

const installed = new WeakMap<object, BatchGathering>();

function hasDecodeQueue(context: object): context is ContextWithDecodeQueue {
  const internals = context as Partial<ContextWithDecodeQueue>;
  return (
    typeof internals._decodeTokens === "function" &&
    typeof internals._scheduleDecode === "function" &&
    Array.isArray(internals._queuedDecodes)
  );
}

/**
 * Installs the hook on a context. `onBatch` receives, for each decode step that sampled tokens, how
 * many sequences sampled one. Returns undefined when this node-llama-cpp lacks the internals it hooks.
 *
 * Per batch, node-llama-cpp decodes, then samples each sequence that wants logits (the logit data
 * mapper), then awaits each sequence's afterBatchAction in turn. The first sampling of a batch opens
 * it; the first afterBatchAction waits for the next event-loop turn and closes it, and the batch's
 * other afterBatchActions find that turn already taken.
 *
 * Lock waiters. node-llama-cpp's batch loop holds the context's lock for as long as its queue is not
 * empty after a batch, and anything else that takes the lock — `eraseContextTokenRanges`, which a new
 * request needs to drop the old tokens of the sequence it lands on — waits for it. Once every running
 * sequence requeues in time (the point of this hook) the queue is never empty while anything
 * generates, so a request arriving during others' generations would wait for all of them to finish
 * (node-llama-cpp alone already does that with two or more streams). So while work passed to `letIn`
 * waits, the hook takes the requeued tokens out of the queue after the batch: the loop ends, the
 * lock goes to the waiter, and when the last waiter is done the tokens go back (in order) and a
 * dispatch is scheduled — one step later, the new request's prompt is decoded with everyone else.
 */
export function gatherSequencesIntoBatches(
  context: LlamaContext,
  onBatch?: (sequences: number) => void,
): BatchGathering | undefined {
  const existing = installed.get(context);
  if (existing) return existing;
  if (!hasDecodeQueue(context)) return undefined;
  const internals = context; // narrowed to the internals the hook uses
  const decodeTokens = internals._decodeTokens.bind(context);
  const sortQueue = () => internals._queuedDecodes.sort((a, b) => a.sequenceId - b.sequenceId);
  let batchOpen = false;
  let sampledInBatch = 0;
  let turnAfterBatch: Promise<void> = Promise.resolve();
  let lockWaiters = 0;
  /** Queued decodes taken out so that the batch loop ends and lets a lock waiter in. */
  const held: ContextWithDecodeQueue["_queuedDecodes"] = [];

  /** Set while a batch is open: ends it on the next event-loop turn. */
  let closeBatch: (() => void) | undefined;

  const sampled = (): void => {
    if (!batchOpen) {
      batchOpen = true;
      sampledInBatch = 0;
      turnAfterBatch = new Promise<void>((resolve) => {
        // Created now, waited for only once the batch's samplings are done (afterBatchAction).
        closeBatch = () =>
          setImmediate(() => {
            batchOpen = false;
            onBatch?.(sampledInBatch);
            resolve();
          });
      });
    }
    sampledInBatch++;
  };
  const waitForTurnAfterBatch = (): Promise<void> => {
    closeBatch?.();
    closeBatch = undefined;
    return turnAfterBatch;
  };
  const letLockWaitersIn = (): void => {
    if (lockWaiters === 0 || internals._queuedDecodes.length === 0) return;
    held.push(...internals._queuedDecodes.splice(0));
  };
  const putBackHeld = (): void => {
    if (held.length === 0) return;
    internals._queuedDecodes.push(...held.splice(0));
    sortQueue();
    internals._scheduleDecode();
  };

  internals._decodeTokens = (request, logitDataMapper) => {
    const ownAction = request.afterBatchAction;
    const afterBatchAction: AfterBatchAction = async (sequenceStateLength) => {
      await ownAction?.(sequenceStateLength);
      await waitForTurnAfterBatch();
      letLockWaitersIn();
    };
    const mapLogits: LogitDataMapper = (batchLogitIndex, tokenIndex) => {
      sampled();
      return logitDataMapper(batchLogitIndex, tokenIndex);
    };
    const decoded = decodeTokens({ ...request, afterBatchAction }, mapLogits);
    // decodeTokens queued the request synchronously; keep the queue in sequence-id order.
    sortQueue();
    return decoded;
  };
  const gathering: BatchGathering = {
    async letIn(work) {
      lockWaiters++;
      try {
        return await work();
      } finally {
        lockWaiters--;
        if (lockWaiters === 0) putBackHeld();
      }
    },
  };
  installed.set(context, gathering);
  return gathering;
}
