import { existsSync } from "node:fs";
import { basename } from "node:path";
import type { Backend } from "../../hal/backends/Backend.js";
import { ModelMissingError } from "../../models/store/defaultModelLocation.js";
import type { BackendManagerOptions } from "./BackendManagerOptions.js";
import { createBackend } from "./createBackend.js";
import type { LoadTarget } from "./LoadTarget.js";
import { pinThreadsForPlan } from "./pinThreadsForPlan.js";

/**
 * Builds a backend of the target's kind and loads the model into it with the plan's settings,
 * telling the status how far the load is (a line every 10 %). The NPU backend loads npu.modelPath
 * (an .rkllm file), whatever GGUF the target names.
 */
export async function loadBackend({ kind, plan, path }: LoadTarget, options: BackendManagerOptions): Promise<Backend> {
  const config = options.config();
  const modelPath = kind === "npu" ? config.npu.modelPath : path;
  if (kind === "npu" && modelPath.length === 0) throw new Error("npu.modelPath is empty: no .rkllm model");
  if (kind !== "npu" && !existsSync(modelPath)) throw new ModelMissingError(modelPath);
  const backend =
    options.createBackend?.(kind) ??
    createBackend(kind, config, options.logFor("llama.cpp"), {
      onDecodeBatch: options.onDecodeBatch,
      onSequenceState: options.onSequenceState,
    });
  const model = basename(modelPath);
  options.logFor("backend").info({ kind, modelPath, threads: plan.threads }, "loading model");
  if (config.backend.pinThreads) pinThreadsForPlan(plan, options.logFor("backend"));
  options.status.activity(`loading model ${model} on ${kind}`, 60_000);
  options.status.progress.loading(model, 0);
  let lastReported = -1;
  await backend.load({
    modelPath,
    contextSize: plan.contextSize,
    parallelSequences: plan.parallelSequences,
    kvCacheType: plan.kvCacheType,
    batchSize: plan.batchSize,
    threads: plan.threads,
    onProgress: (fraction) => {
      options.status.progress.loading(model, fraction);
      const percent = Math.floor(fraction * 10) * 10;
      if (percent > lastReported) {
        lastReported = percent;
        options.status.activity(`loading model ${model} on ${kind} ${percent} %`, 60_000);
      }
    },
  });
  return backend;
}
