/**
 * The scheduler counts a prefill chunk as progress and knows the prompt tokens in flight (what the
 * stall limit allows for); a cancel during a prefill ends the request with the prompt tokens it did
 * evaluate. A real llama.cpp backend on the tiny model with small chunks, observed through a thin
 * wrapper that looks at the scheduler at each of the backend's progress reports.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { FinalMessage, GenerateRequest } from "../../daemon/protocol/messages.js";
import { Scheduler } from "../../daemon/scheduler/Scheduler.js";
import { prefillStallSafetyFactor, stallLimitMs } from "../../daemon/scheduler/stallLimitMs.js";
import type { Backend, PrefillProgress } from "../../hal/backends/Backend.js";
import { LlamaCppBackend } from "../../hal/backends/llamaCpp/LlamaCppBackend.js";
import { expectedDecodeRate } from "../../hal/plan/expectedDecodeRate.js";
import { expectedPrefillRate } from "../../hal/plan/expectedPrefillRate.js";
import { testModelPath } from "../support/testModels.js";

const chunkTokens = 16;

function request(id: string, overrides: Partial<GenerateRequest> = {}): GenerateRequest {
  return {
    type: "generate",
    id,
    prompt: `${id}: ${"The mill turned all night by the river. ".repeat(16)}At dawn`,
    max_tokens: 4,
    temperature: 0,
    priority: "interactive",
    stream: false,
    ...overrides,
  };
}

/** The real backend, with a look at each prefill report after the scheduler has taken it. */
function observed(backend: Backend, onReport: (progress: PrefillProgress) => void): Backend {
  return {
    kind: backend.kind,
    load: (options) => backend.load(options),
    unload: () => backend.unload(),
    info: () => backend.info(),
    countPromptTokens: (job) => backend.countPromptTokens(job),
    generate: (job, callbacks, signal) =>
      backend.generate(
        job,
        {
          ...callbacks,
          onPrefill: (progress) => {
            callbacks.onPrefill?.(progress);
            onReport(progress);
          },
        },
        signal,
      ),
  };
}

describe("Scheduler: prefill progress", () => {
  const backend = new LlamaCppBackend({ kind: "cpu", prefillChunkTokens: chunkTokens });
  before(() => backend.load({ modelPath: testModelPath(), contextSize: 512, parallelSequences: 2, threads: 2 }));
  after(() => backend.unload());

  it("counts every chunk as progress and holds the chunk in flight for the stall limit", async () => {
    const seen: { inFlight: number; next: number }[] = [];
    let scheduler!: Scheduler;
    scheduler = new Scheduler({
      backend: observed(backend, (progress) =>
        seen.push({ inFlight: scheduler.tokensInFlight(), next: progress.nextChunkTokens }),
      ),
      maxQueue: 4,
      concurrency: 1,
    });
    scheduler.start();
    const final = await scheduler.submit(request("mill"), { send: () => undefined }).finished;
    assert.equal(final.type, "done");
    assert.ok(seen.length > 8, `many chunk reports (${seen.length})`);
    assert.deepEqual(
      seen.slice(0, -1).map((s) => s.inFlight),
      seen.slice(0, -1).map((s) => s.next),
      "the scheduler holds the chunk each report announces",
    );
    assert.equal(seen.at(-1)?.next, 0, "the last report ends the prefill");
    assert.equal(seen.at(-1)?.inFlight, 1, "then one token at a time is in flight (a decode step)");
    assert.equal(scheduler.tokensInFlight(), 0, "nothing runs: nothing in flight");
    assert.equal(scheduler.stalledForMs(), 0, "nothing runs: no stall");
    await scheduler.stop(1000);
  });

  it("ends a request cancelled during its prefill with the prompt tokens evaluated so far", async () => {
    const handles: { cancel(): void }[] = [];
    const scheduler = new Scheduler({
      backend: observed(backend, (progress) => {
        if (progress.evaluatedTokens === 2 * chunkTokens) handles[0]?.cancel();
      }),
      maxQueue: 4,
      concurrency: 1,
    });
    scheduler.start();
    const handle = scheduler.submit(request("weir"), { send: () => undefined });
    handles.push(handle);
    const final: FinalMessage = await handle.finished;
    assert.equal(final.type, "done");
    if (final.type !== "done") return;
    assert.equal(final.finish_reason, "cancelled");
    assert.equal(final.usage.completion_tokens, 0);
    assert.equal(final.usage.evaluated_prompt_tokens, 2 * chunkTokens, "stopped at the end of the chunk in flight");
    assert.ok(final.usage.evaluated_prompt_tokens < final.usage.prompt_tokens - final.usage.cached_prompt_tokens);
    await scheduler.stop(1000);
  });
});

describe("stall limit", () => {
  it("is scheduler.stallTimeoutMs without tokens in flight or without a rate", () => {
    assert.equal(stallLimitMs({ stallTimeoutMs: 120_000, tokensInFlight: 0, prefillTokensPerSecond: 3 }), 120_000);
    assert.equal(stallLimitMs({ stallTimeoutMs: 120_000, tokensInFlight: 512, prefillTokensPerSecond: null }), 120_000);
  });

  it("grows to the safety factor times what the chunks in flight take at the expected rate", () => {
    // A Pi 4 at 3 tok/s: four sequences' 512-token chunks in flight take 683 s.
    const limit = stallLimitMs({ stallTimeoutMs: 120_000, tokensInFlight: 4 * 512, prefillTokensPerSecond: 3 });
    assert.equal(limit, Math.ceil((prefillStallSafetyFactor * 4 * 512 * 1000) / 3));
    // A fast board's chunk fits within the plain limit.
    assert.equal(stallLimitMs({ stallTimeoutMs: 120_000, tokensInFlight: 512, prefillTokensPerSecond: 500 }), 120_000);
  });

  it("expects prefill no faster than the decode bound, slower still through Vulkan, and knows the NPU", () => {
    const modelBytes = 1.17e9;
    const pi4 = expectedPrefillRate("rpi4", "cpu", modelBytes).tokensPerSecond ?? 0;
    assert.equal(pi4, expectedDecodeRate("rpi4", "cpu", modelBytes).tokensPerSecond);
    assert.equal(
      expectedPrefillRate("generic-x86_64", "cpu", modelBytes).tokensPerSecond,
      pi4,
      "no figure: the Pi 4's",
    );
    assert.equal(expectedPrefillRate("rpi4", "vulkan", modelBytes).tokensPerSecond, pi4 / 10);
    assert.ok((expectedPrefillRate("rk3588", "npu", modelBytes).tokensPerSecond ?? 0) > 200);
  });
});
