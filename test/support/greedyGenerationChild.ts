/**
 * Run as a child process (the persistent threadpool is process-wide): loads the tiny test model on
 * the llama.cpp CPU backend with the threadpool on or off, generates greedily for two prompts at once,
 * unloads, and prints one JSON line: the texts, the backend's cpuThreadpool before and after, and the
 * threadpool library's counters after generating and after unloading.
 *
 *   node dist/test/support/greedyGenerationChild.js on|off MODEL_PATH
 */
import { LlamaCppBackend } from "../../hal/backends/llamaCpp/LlamaCppBackend.js";
import { persistentThreadpoolState } from "../../hal/backends/llamaCpp/persistentThreadpool/persistentThreadpool.js";

const [mode, modelPath] = process.argv.slice(2);
if ((mode !== "on" && mode !== "off") || modelPath === undefined) throw new Error("usage: on|off MODEL_PATH");

const backend = new LlamaCppBackend({ kind: "cpu", persistentThreadpool: mode === "on" });
await backend.load({ modelPath, contextSize: 256, parallelSequences: 2, threads: 2 });
const before = backend.info().cpuThreadpool;
const runs = await Promise.all(
  ["The old lighthouse keeper", "In the forest the fox"].map((prompt, index) =>
    backend.generate(
      {
        id: `greedy-${index}`,
        input: { kind: "prompt", prompt },
        maxTokens: 24,
        sampling: { temperature: 0 },
        stop: [],
      },
      { onText: () => {} },
      new AbortController().signal,
    ),
  ),
);
const after = backend.info().cpuThreadpool;
const afterGenerating = persistentThreadpoolState();
// A generation after the pool was put to sleep wakes it and gives the same text.
const again = await backend.generate(
  {
    id: "again",
    input: { kind: "prompt", prompt: "The old lighthouse keeper" },
    maxTokens: 24,
    sampling: { temperature: 0 },
    stop: [],
  },
  { onText: () => {} },
  new AbortController().signal,
);
await backend.unload();
const afterUnloading = persistentThreadpoolState();
process.stdout.write(
  `${JSON.stringify({
    texts: runs.map((run) => run.text),
    textAfterPause: again.text,
    completionTokens: runs.map((run) => run.completionTokens),
    cpuThreadpool: { before, after },
    afterGenerating,
    afterUnloading,
  })}\n`,
);
