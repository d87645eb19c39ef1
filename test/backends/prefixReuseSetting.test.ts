/**
 * backend.prefixReuse: on (the default) a prompt that starts with what a sequence already holds
 * reuses those tokens; off, every prompt is evaluated from its first token (the benchmark's cold
 * legs), also for the same session, and the answer is the same.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { defaultSampling } from "../../daemon/scheduler/toGenerationJob.js";
import type { GenerationJob } from "../../hal/backends/Backend.js";
import { LlamaCppBackend } from "../../hal/backends/llamaCpp/LlamaCppBackend.js";
import { testModelPath } from "../support/testModels.js";

const job = (prompt: string, session?: string): GenerationJob => ({
  id: `reuse-${prompt.length}`,
  input: { kind: "prompt", prompt },
  maxTokens: 4,
  sampling: { ...defaultSampling, temperature: 0 },
  stop: [],
  session,
});
const persona = "You are Mira, the innkeeper of the Red Lantern. Travellers ask you about the road north.";

for (const prefixReuse of [true, false])
  describe(`LlamaCppBackend with prefixReuse ${prefixReuse}`, () => {
    const backend = new LlamaCppBackend({ kind: "cpu", prefixReuse, persistentThreadpool: false });
    before(() => backend.load({ modelPath: testModelPath(), contextSize: 256, parallelSequences: 2, threads: 1 }));
    after(() => backend.unload());

    it(
      prefixReuse ? "reuses the cached prefix of the same session" : "evaluates every prompt token again",
      async () => {
        const generate = (prompt: string) =>
          backend.generate(job(prompt, "mira"), { onText: () => undefined }, new AbortController().signal);
        const first = await generate(`${persona} Q: the road?`);
        const second = await generate(`${persona} Q: the weather?`);
        assert.equal(first.reusedPromptTokens, 0);
        if (prefixReuse) assert.ok(second.reusedPromptTokens > 10, `reused ${second.reusedPromptTokens}`);
        else assert.equal(second.reusedPromptTokens, 0);
        assert.equal(second.evaluatedPromptTokens, second.promptTokens - second.reusedPromptTokens);
      },
    );
  });
