/**
 * The llama.cpp backend evaluates a long prompt in chunks (hal/backends/llamaCpp/prefillInChunks.ts):
 * progress after each chunk, an abort honoured at the end of the chunk in flight, the chunks already
 * evaluated kept as a reusable prefix — and the same text as a prefill in one piece. Asserts on chunk
 * counts and events, never on time.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { PrefillProgress } from "../../hal/backends/Backend.js";
import { LlamaCppBackend } from "../../hal/backends/llamaCpp/LlamaCppBackend.js";
import { testModelPath } from "../support/testModels.js";
import { jobFor } from "./backendContract.js";

const chunkTokens = 16;
const loadOptions = { modelPath: testModelPath(), contextSize: 512, parallelSequences: 2, threads: 2 };
/** A prompt of many chunks; each tag starts it differently, so no sequence holds a prefix of it. */
const longPrompt = (tag: string) =>
  `${tag}. The ledger of the harbour master lists every ship. ${"A ship came in with salt and rope. ".repeat(20)}Then`;

interface Observed {
  progress: PrefillProgress[];
  firstTokenAfterReports: number | undefined;
}

function observe(onReport?: (progress: PrefillProgress) => void): {
  observed: Observed;
  callbacks: Parameters<LlamaCppBackend["generate"]>[1];
} {
  const observed: Observed = { progress: [], firstTokenAfterReports: undefined };
  return {
    observed,
    callbacks: {
      onText: () => undefined,
      onFirstToken: () => {
        observed.firstTokenAfterReports ??= observed.progress.length;
      },
      onPrefill: (progress) => {
        observed.progress.push(progress);
        onReport?.(progress);
      },
    },
  };
}

describe("llama.cpp backend: chunked prefill", () => {
  const chunked = new LlamaCppBackend({ kind: "cpu", prefillChunkTokens: chunkTokens });
  before(() => chunked.load(loadOptions));
  after(() => chunked.unload());

  it("reports progress after every chunk, then once when the prefill is over", async () => {
    const { observed, callbacks } = observe();
    const result = await chunked.generate(
      jobFor(longPrompt("Monday"), { maxTokens: 4 }),
      callbacks,
      new AbortController().signal,
    );
    const total = result.promptTokens - result.reusedPromptTokens;
    assert.ok(total > 8 * chunkTokens, `a prompt of many chunks (${total} tokens)`);
    const chunksBeforeTheLast = Math.ceil(total / chunkTokens) - 1;
    // The start, one report per chunk evaluated before the last, and the end (the last chunk is
    // evaluated with the first token's sampling).
    assert.equal(observed.progress.length, 1 + chunksBeforeTheLast + 1);
    assert.deepEqual(
      observed.progress.map((p) => p.evaluatedTokens),
      [...Array.from({ length: chunksBeforeTheLast + 1 }, (_, i) => i * chunkTokens), total],
    );
    assert.ok(observed.progress.every((p) => p.promptTokens === total));
    assert.ok(observed.progress.slice(0, -1).every((p) => p.nextChunkTokens > 0 && p.nextChunkTokens <= chunkTokens));
    assert.equal(observed.progress.at(-1)?.nextChunkTokens, 0);
    assert.equal(observed.firstTokenAfterReports, observed.progress.length, "the prefill ends before the first token");
    assert.equal(result.evaluatedPromptTokens, total);
    assert.equal(result.completionTokens, 4);
  });

  it("gives the same text as a prefill in one piece", async () => {
    const whole = new LlamaCppBackend({ kind: "cpu" });
    await whole.load({ ...loadOptions, parallelSequences: 1 });
    try {
      const job = jobFor(longPrompt("Tuesday"), { maxTokens: 12 });
      const inOnePiece = observe();
      const baseline = await whole.generate(job, inOnePiece.callbacks, new AbortController().signal);
      assert.equal(inOnePiece.observed.progress.length, 2, "one piece: reported at its start and its end");
      const inChunks = await chunked.generate(job, observe().callbacks, new AbortController().signal);
      assert.equal(inChunks.text, baseline.text);
    } finally {
      await whole.unload();
    }
  });

  it("stops a prefill at the end of the chunk in flight when aborted, and keeps those chunks for a retry", async () => {
    const abort = new AbortController();
    const stopAfter = 3 * chunkTokens;
    const prompt = longPrompt("Wednesday");
    const { observed, callbacks } = observe((progress) => {
      if (progress.evaluatedTokens >= stopAfter) abort.abort(new Error("cancelled"));
    });
    const cancelled = await chunked.generate(jobFor(prompt, { maxTokens: 4 }), callbacks, abort.signal);
    assert.equal(cancelled.finishReason, "cancelled");
    assert.equal(cancelled.evaluatedPromptTokens, stopAfter);
    assert.ok(cancelled.evaluatedPromptTokens < cancelled.promptTokens - cancelled.reusedPromptTokens);
    assert.equal(cancelled.completionTokens, 0);
    assert.equal(cancelled.text, "");
    assert.equal(observed.firstTokenAfterReports, undefined, "no token sampled");
    assert.equal(observed.progress.at(-1)?.evaluatedTokens, stopAfter, "no chunk after the abort");

    // The same prompt again lands on the sequence that holds the evaluated chunks and reuses them.
    const retry = await chunked.generate(
      jobFor(prompt, { maxTokens: 4 }),
      observe().callbacks,
      new AbortController().signal,
    );
    assert.equal(retry.finishReason, "length");
    assert.ok(
      retry.reusedPromptTokens >= cancelled.reusedPromptTokens + stopAfter,
      `reused ${retry.reusedPromptTokens} of the ${cancelled.reusedPromptTokens + stopAfter} held`,
    );
    assert.equal(retry.evaluatedPromptTokens, retry.promptTokens - retry.reusedPromptTokens);
  });
});
