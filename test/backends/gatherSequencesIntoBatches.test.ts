/**
 * Concurrent generations on one llama.cpp context are decoded together: every running sequence in
 * every step's batch, in sequence-id order (so llama.cpp decodes the batch in one pass over the
 * weights instead of one pass per run of consecutive ids). See hal/backends/llamaCpp/gatherSequencesIntoBatches.ts.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setImmediate } from "node:timers/promises";
import { getLlama, type Llama, type LlamaContext, type LlamaContextSequence, type Token } from "node-llama-cpp";
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
    if (hooked) assert.ok(gatherSequencesIntoBatches(context, (sequences) => reported.push(sequences)));
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

  it("lets a sequence that needs the context's lock (erasing its old tokens) in at the next step, not after the others finish", async () => {
    const model = await llama.loadModel({ modelPath: testModelPath() });
    const context = await model.createContext({ contextSize: 512, sequences: streams, threads: 1 });
    const gathering = gatherSequencesIntoBatches(context);
    assert.ok(gathering);
    const [late, ...running] = Array.from({ length: streams }, () => context.getSequence());
    if (!late) throw new Error("no sequence");
    const prompt = (text: string): Token[] => [model.tokens.bos as Token, ...model.tokenize(text)];
    const generate = async (
      sequence: LlamaContextSequence,
      text: string,
      count: number,
      counts: number[],
      index: number,
    ) => {
      for await (const _token of sequence.evaluate(prompt(text), { temperature: 0 })) {
        counts[index] = (counts[index] ?? 0) + 1;
        if (counts[index] === count) break;
      }
    };
    // The late sequence holds tokens from an earlier request, to be erased before its next one.
    await generate(late, "an earlier request", 8, [], 0);
    const long = 200;
    const counts: number[] = [];
    const others = Promise.all(
      running.map((sequence, index) => generate(sequence, `Stream ${index}`, long, counts, index)),
    );
    while ((counts[0] ?? 0) < 5) await setImmediate();
    await gathering.letIn(() => late.eraseContextTokenRanges([{ start: 1, end: late.nextTokenIndex }]));
    const atErase = [...counts];
    const lateTokens: number[] = [];
    await Promise.all([others, generate(late, "the late request", 8, lateTokens, 0)]);
    assert.ok(
      atErase.every((count) => count < long),
      `the erase ran while the others generated: tokens at that moment ${atErase}`,
    );
    assert.deepEqual(
      counts,
      running.map(() => long),
      "the others lost nothing",
    );
    assert.deepEqual(lateTokens, [8]);
    await context.dispose();
    await model.dispose();
  });

  it("reports undefined, and changes nothing, on a context without the internals it hooks", () => {
    const notAContext = {} as LlamaContext;
    assert.equal(gatherSequencesIntoBatches(notAContext), undefined);
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

      // Again, now that every sequence holds an earlier request's tokens that each new request must
      // erase first (the context's lock): the four still decode together from their second step.
      steps.length = 0;
      const again = await Promise.all(
        Array.from({ length: streams }, (_, index) =>
          collect(backend, jobFor(`Another ${index} says`, { maxTokens: 16, sampling: { temperature: 0 } })),
        ),
      );
      await setImmediate();
      await setImmediate();
      const fullSteps = steps.filter((sequences) => sequences === streams).length;
      const shortest = Math.min(...again.map(({ result }) => result.completionTokens));
      assert.ok(fullSteps >= shortest - 1, `steps: ${steps}`);
    } finally {
      await backend.unload();
    }
  });
});
