// Runs on the GPU machine: makes the TinyLlama-1.1B-shaped q4_0 model with the project's generator,
// then measures greedy decode on the CPU backend and on the Vulkan backend (node-llama-cpp's Vulkan build).
// KINDS=vulkan,cpu (default) picks the backends; POOL=0 runs without the persistent CPU threadpool
// (the library is process-wide, so compare pool on/off in two runs). Each backend also runs 4 concurrent
// streams on a 4-sequence context: aggregate tokens/s and how many sequences each decode step held.

import { existsSync } from "node:fs";
import { cpus } from "node:os";
import { LlamaCppBackend } from "./dist/hal/backends/llamaCpp/LlamaCppBackend.js";
import { persistentThreadpoolState } from "./dist/hal/backends/llamaCpp/persistentThreadpool/persistentThreadpool.js";
import { makeTestModel } from "./dist/models/testModel/makeTestModel.js";

const persistentThreadpool = process.env.POOL !== "0";
const kinds = (process.env.KINDS ?? "vulkan,cpu").split(",");
const out = { persistentThreadpool };
const t0 = Date.now();
const modelPath = "/tmp/p/tinyllama-1.1b-q4_0.gguf";
if (!existsSync(modelPath)) makeTestModel({ shape: "tinyllama-1.1b", quant: "q4_0", seed: 1, out: modelPath });
out.modelSeconds = (Date.now() - t0) / 1000;
const threads = Math.min(16, cpus().length);
for (const kind of kinds) {
  const steps = [];
  const backend = new LlamaCppBackend({ kind, persistentThreadpool, onDecodeBatch: (n) => steps.push(n) });
  const job = (id, prompt) => ({
    id,
    input: { kind: "prompt", prompt },
    maxTokens: 128,
    sampling: { temperature: 0 },
    stop: [],
  });
  try {
    await backend.load({ modelPath, contextSize: 2048, parallelSequences: 4, threads });
    const info = backend.info();
    const runs = [];
    let text = "";
    for (let rep = 0; rep < 4; rep++) {
      const times = [];
      const started = performance.now();
      const result = await backend.generate(
        job(`r${rep}`, `Story ${rep}: the robot walked into the workshop and`),
        { onText: () => times.push(performance.now()) },
        new AbortController().signal,
      );
      if (rep === 0) text = result.text;
      runs.push({
        ttftMs: times[0] - started,
        decode: ((times.length - 1) * 1000) / (times.at(-1) - times[0]),
        tokens: result.completionTokens,
      });
    }
    const concurrent = [];
    for (let rep = 0; rep < 3; rep++) {
      steps.length = 0;
      const started = performance.now();
      const results = await Promise.all(
        [0, 1, 2, 3].map((i) =>
          backend.generate(
            job(`c${rep}-${i}`, `Tale ${rep}${i}: the lamp in the tower`),
            { onText: () => {} },
            new AbortController().signal,
          ),
        ),
      );
      const tokens = results.reduce((sum, r) => sum + r.completionTokens, 0);
      const histogram = {};
      for (const n of steps) histogram[n] = (histogram[n] ?? 0) + 1;
      concurrent.push({
        aggregate: (tokens * 1000) / (performance.now() - started),
        tokens,
        stepsBySequences: histogram,
      });
    }
    out[kind] = {
      devices: info.devices,
      gpuLayers: info.gpuLayers,
      threads: info.threads,
      cpuThreadpool: backend.info().cpuThreadpool,
      runs,
      fourStreams: concurrent,
      firstText: text.slice(0, 120),
    };
  } catch (error) {
    out[kind] = { error: String(error?.message ?? error) };
  } finally {
    await backend.unload();
  }
}
out.threadpool = persistentThreadpoolState();
console.log(JSON.stringify(out, null, 2));
