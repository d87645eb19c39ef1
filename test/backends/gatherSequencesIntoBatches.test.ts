/**
 * Concurrent generations on one llama.cpp context are decoded together: every running sequence in
 * every step's batch, in sequence-id order (so llama.cpp decodes the batch in one pass over the
 * weights instead of one pass per run of consecutive ids). See hal/backends/llamaCpp/gatherSequencesIntoBatches.ts.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setImmediate } from "node:timers/promises";
import { getLlama, type Llama, type LlamaContext, type Token } from "node-llama-cpp";
import { gatherSequencesIntoBatches } from "../../hal/backends/llamaCpp/gatherSequencesIntoBatches.js";
import { LlamaCppBackend } from "../../hal/backends/llamaCpp/LlamaCppBackend.js";
import { testModelPath } from "../support/testModels.js";
import { collect, jobFor } from "./backendContract.js";

const streams = 4;
const tokensPerStream = 24;

/** The addon calls llama.cpp's batch API through; recorded to see what each decode held. */
interface AddonBatchApi {
  addToBatch(sequenceId: number, ...rest: unknown[]): unknown;
  decodeBatch(...rest: unknown[]): Promise<unknown>;
}

/** Wraps the context's addon object (a node-llama-cpp internal) to record the sequence ids of each decoded batch. */
function recordBatches(context: LlamaContext): number[][] {
  const batches: number[][] = [];
  let current: number[] = [];
  const internals = context as unknown as { _ctx: AddonBatchApi };
  const addon = internals._ctx;
  internals._ctx = new Proxy(addon, {
    get(target, property) {
      const value = Reflect.get(target, property) as unknown;
      if (typeof value !== "function") return value;
      if (property === "addToBatch")
        return (sequenceId: number, ...rest: unknown[]) => {
          current.push(sequenceId);
          return target.addToBatch(sequenceId, ...rest);
        };
      if (property === "decodeBatch")
        return (...rest: unknown[]) => {
          batches.push(current);
          current = [];
          return target.decodeBatch(...rest);
        };
      return (value as (...args: unknown[]) => unknown).bind(target);
    },
  });
  return batches;
}

describe("gathering concurrent sequences into each batch", () => {
  let llama: Llama;
  before(async () => {
    llama = await getLlama({ gpu: false, build: "never", maxThreads: 1 });
  });
  after(() => llama.dispose());

  async function decodeConcurrently(hooked: boolean) {
    const model = await llama.loadModel({ modelPath: testModelPath() });
    const context = await model.createContext({ contextSize: 256, sequences: streams, threads: 1 });
    const reported: number[] = [];
    if (hooked)
      assert.equal(
        gatherSequencesIntoBatches(context, (sequences) => reported.push(sequences)),
        true,
      );
    const batches = recordBatches(context);
    const sequences = Array.from({ length: streams }, () => context.getSequence());
    const generated = await Promise.all(
      sequences.map(async (sequence, index) => {
        const prompt: Token[] = [model.tokens.bos as Token, ...model.tokenize(`Stream ${index}: once upon a time`)];
        const tokens: Token[] = [];
        for await (const token of sequence.evaluate(prompt, { temperature: 0 })) {
          tokens.push(token);
          if (tokens.length === tokensPerStream) break;
        }
        return tokens;
      }),
    );
    await context.dispose();
    await model.dispose();
    return { batches, reported, generated };
  }

  it("puts every running sequence in each step's batch, in sequence-id order", async () => {
    const { batches, reported, generated } = await decodeConcurrently(true);
    for (const tokens of generated) assert.equal(tokens.length, tokensPerStream);
    for (const batch of batches)
      assert.deepEqual(
        batch,
        [...batch].sort((a, b) => a - b),
        `a batch in sequence-id order: ${batch}`,
      );
    // The streams start together and all stop after the same number of tokens: once their prompts
    // are in, every step holds all four. Each stream decodes tokensPerStream - 1 generated tokens.
    const fullSteps = batches.filter((batch) => batch.length === streams).length;
    assert.ok(
      fullSteps >= tokensPerStream - 1,
      `steps with all ${streams} sequences: ${fullSteps} of ${batches.length}`,
    );
    assert.equal(batches.length, fullSteps, `every batch holds all ${streams} sequences: ${JSON.stringify(batches)}`);
    // onBatch counts the sequences that sampled a token in each step: one per generated token.
    assert.equal(
      reported.reduce((sum, sequences) => sum + sequences, 0),
      streams * tokensPerStream,
    );
    assert.ok(reported.every((sequences) => sequences === streams));
  });

  it("reports false, and changes nothing, on a context without the internals it hooks", () => {
    const notAContext = {} as LlamaContext;
    assert.equal(gatherSequencesIntoBatches(notAContext), false);
    assert.deepEqual(Object.keys(notAContext), []);
  });

  it("the backend reports each step's sequences: one per token generated by its concurrent requests", async () => {
    const steps: number[] = [];
    const backend = new LlamaCppBackend({ kind: "cpu", onDecodeBatch: (sequences) => steps.push(sequences) });
    await backend.load({ modelPath: testModelPath(), contextSize: 256, parallelSequences: streams, threads: 1 });
    try {
      const results = await Promise.all(
        Array.from({ length: streams }, (_, index) =>
          collect(backend, jobFor(`Request ${index} says`, { maxTokens: 16, sampling: { temperature: 0 } })),
        ),
      );
      const completionTokens = results.reduce((sum, { result }) => sum + result.completionTokens, 0);
      // A step is reported on the event-loop turn after its tokens were handed out.
      await setImmediate();
      await setImmediate();
      assert.equal(
        steps.reduce((sum, sequences) => sum + sequences, 0),
        completionTokens,
      );
      assert.equal(Math.max(...steps), streams, `steps: ${steps}`);
    } finally {
      await backend.unload();
    }
  });
});
