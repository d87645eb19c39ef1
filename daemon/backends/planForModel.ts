/**
 * Probes the board and plans the backend for a model (config can force any choice); logs every
 * reason. Also says, typed, whether the model fits the memory (plan.memory).
 */
import { existsSync, statSync } from "node:fs";
import { probeVulkanDevices } from "../../hal/backends/llamaCpp/probeVulkanDevices.js";
import { type BackendPlan, planBackend } from "../../hal/plan/planBackend.js";
import { type HardwareReport, probeHardware } from "../../hal/probes/probeHardware.js";
import type { TinyllamadConfig } from "../config/configSchema.js";
import type { Logger } from "../logging/createLogger.js";

export async function planForModel(
  config: TinyllamadConfig,
  modelPath: string,
  log: Logger,
): Promise<{ plan: BackendPlan; hardware: HardwareReport }> {
  const wantVulkan =
    config.backend.kind === "vulkan" ||
    (config.backend.kind === "auto" && (existsSync("/dev/dri") || existsSync("/dev/nvidiactl")));
  const hardware = await probeHardware(config.hal.root, {
    vulkan: wantVulkan ? await probeVulkanDevices() : undefined,
    npuLibraryPaths: config.npu.libraryPath ? [config.npu.libraryPath] : [],
  });
  const rkllm = config.npu.modelPath;
  const plan = planBackend(
    hardware,
    {
      format: "gguf",
      path: modelPath,
      fileBytes: existsSync(modelPath) ? statSync(modelPath).size : 0,
      rkllmPath: rkllm && existsSync(rkllm) ? rkllm : undefined,
      rkllmFileBytes: rkllm && existsSync(rkllm) ? statSync(rkllm).size : undefined,
    },
    {
      backend: config.backend.kind,
      threads: config.backend.threads,
      contextSize: config.model.contextSize,
      parallelSequences: config.scheduler.parallelSequences,
      kvCacheType: config.backend.kvCacheType,
      batchSize: config.backend.batchSize,
    },
  );
  log.info(
    {
      board: hardware.board.model,
      backend: plan.backend,
      threads: plan.threads,
      cpus: plan.cpuList,
      contextSize: plan.contextSize,
      parallelSequences: plan.parallelSequences,
      kvCacheType: plan.kvCacheType,
      batchSize: plan.batchSize,
      candidates: plan.candidates,
      reasons: plan.reasons,
    },
    "backend plan",
  );
  return { plan, hardware };
}
