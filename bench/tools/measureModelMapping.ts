/**
 * What loading a model with and without mmap costs in memory, and what truncating the file in place
 * does to a process serving it. One measurement per process (the numbers are the process's own):
 *
 *   node dist/bench/tools/measureModelMapping.js --model FILE --mmap on|off [--truncate]
 *
 * prints one JSON line: RSS split into anonymous and file-backed pages after the load and after a
 * short generation, the peak RSS, and with --truncate whether a generation after truncating a copy
 * of the model to half its size still ran (without mmap it does; with mmap the process dies by SIGBUS
 * before it can print, which the caller sees as the signal). Used for docs/models.md.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { defaultSampling } from "../../daemon/scheduler/toGenerationJob.js";
import type { GenerationJob } from "../../hal/backends/Backend.js";
import { LlamaCppBackend } from "../../hal/backends/llamaCpp/LlamaCppBackend.js";

interface MemoryFigures {
  rssMiB: number;
  anonMiB: number;
  fileMiB: number;
  peakMiB: number;
}

function memory(): MemoryFigures {
  const status = readFileSync("/proc/self/status", "utf8");
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
  const mib = (value: number) => Math.round(value / 1024);
  return {
    rssMiB: mib(kib("VmRSS")),
    anonMiB: mib(kib("RssAnon")),
    fileMiB: mib(kib("RssFile")),
    peakMiB: mib(kib("VmHWM")),
  };
}

async function generate(backend: LlamaCppBackend): Promise<number> {
  const job: GenerationJob = {
    id: "measure",
    input: { kind: "prompt", prompt: "The board" },
    maxTokens: 8,
    sampling: { ...defaultSampling, temperature: 0 },
    stop: [],
  };
  const result = await backend.generate(job, { onText: () => undefined }, new AbortController().signal);
  return result.completionTokens;
}

const { values } = parseArgs({
  options: { model: { type: "string" }, mmap: { type: "string" }, truncate: { type: "boolean" } },
});
if (!values.model || (values.mmap !== "on" && values.mmap !== "off"))
  throw new Error("usage: --model FILE --mmap on|off [--truncate]");
const scratch = mkdtempSync(join(tmpdir(), "tinyllamad-mmap-"));
const modelPath = join(scratch, "model.gguf");
copyFileSync(values.model, modelPath);
const backend = new LlamaCppBackend({ kind: "cpu", useMmap: values.mmap === "on", persistentThreadpool: false });
const before = memory();
await backend.load({ modelPath, contextSize: 512, parallelSequences: 1, threads: 2 });
const loaded = memory();
const tokens = await generate(backend);
const served = memory();
let afterTruncate: { tokens: number } | undefined;
if (values.truncate) {
  truncateSync(modelPath, Math.floor(statSync(modelPath).size / 2));
  afterTruncate = { tokens: await generate(backend) };
}
console.log(
  JSON.stringify({
    model: values.model,
    fileMiB: Math.round(statSync(values.model).size / 1048576),
    mmap: values.mmap,
    before,
    loaded,
    served,
    tokens,
    ...(afterTruncate ? { afterTruncate } : {}),
  }),
);
await backend.unload();
rmSync(scratch, { recursive: true, force: true });
