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
 */
import type { LlamaContext } from "node-llama-cpp";

type AfterBatchAction = (sequenceStateLength: number) => Promise<void> | void;
type LogitDataMapper = (batchLogitIndex: number, tokenIndex: number) => unknown;

interface QueuedDecodeRequest {
  afterBatchAction?: AfterBatchAction | undefined;
}

/** The part of node-llama-cpp 3.22.1's LlamaContext internals the hook relies on. */
interface ContextWithDecodeQueue {
  _decodeTokens(request: QueuedDecodeRequest, logitDataMapper: LogitDataMapper): Promise<unknown>;
  _queuedDecodes: { sequenceId: number }[];
}

const installed = new WeakSet<object>();

function hasDecodeQueue(context: object): context is ContextWithDecodeQueue {
  const internals = context as Partial<ContextWithDecodeQueue>;
  return typeof internals._decodeTokens === "function" && Array.isArray(internals._queuedDecodes);
}

/**
 * Installs the hook on a context. `onBatch` receives, for each decode step that sampled tokens, how
 * many sequences sampled one. Returns false when this node-llama-cpp lacks the internal it hooks.
 *
 * Per batch, node-llama-cpp decodes, then samples each sequence that wants logits (the logit data
 * mapper), then awaits each sequence's afterBatchAction in turn. The first sampling of a batch opens
 * it; the first afterBatchAction waits for the next event-loop turn and closes it, and the batch's
 * other afterBatchActions find that turn already taken.
 */
export function gatherSequencesIntoBatches(context: LlamaContext, onBatch?: (sequences: number) => void): boolean {
  if (installed.has(context)) return true;
  if (!hasDecodeQueue(context)) return false;
  const decodeTokens = context._decodeTokens.bind(context);
  let batchOpen = false;
  let sampledInBatch = 0;
  let turnAfterBatch: Promise<void> = Promise.resolve();

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
  let closeBatch: (() => void) | undefined;
  const waitForTurnAfterBatch = (): Promise<void> => {
    closeBatch?.();
    closeBatch = undefined;
    return turnAfterBatch;
  };

  context._decodeTokens = (request, logitDataMapper) => {
    const ownAction = request.afterBatchAction;
    const afterBatchAction: AfterBatchAction = async (sequenceStateLength) => {
      await ownAction?.(sequenceStateLength);
      await waitForTurnAfterBatch();
    };
    const mapLogits: LogitDataMapper = (batchLogitIndex, tokenIndex) => {
      sampled();
      return logitDataMapper(batchLogitIndex, tokenIndex);
    };
    const decoded = decodeTokens({ ...request, afterBatchAction }, mapLogits);
    // decodeTokens queued the request synchronously; keep the queue in sequence-id order.
    context._queuedDecodes.sort((a, b) => a.sequenceId - b.sequenceId);
    return decoded;
  };
  installed.add(context);
  return true;
}
