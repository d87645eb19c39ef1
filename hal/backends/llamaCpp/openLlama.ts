import { getLlama, type Llama, LlamaLogLevel } from "node-llama-cpp";
import { vulkanUnavailableReason } from "./vulkanUnavailableReason.js";

/**
 * node-llama-cpp's prebuilt llama.cpp for a backend kind (never a build from source on a board), its
 * warnings and errors passed on. A Vulkan build that node-llama-cpp's load test rejects is named as
 * doctor names it, so the fallback to the CPU says why.
 */
export async function openLlama(
  kind: "cpu" | "vulkan",
  threads: number,
  onLog: (level: "warn" | "error", message: string) => void,
): Promise<Llama> {
  return getLlama({
    gpu: kind === "vulkan" ? "vulkan" : false,
    build: "never",
    maxThreads: threads,
    logLevel: LlamaLogLevel.warn,
    logger: (level, message) => {
      const text = message.trim();
      if (text.length === 0) return;
      if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) onLog("error", text);
      else if (level === LlamaLogLevel.warn) onLog("warn", text);
    },
  }).catch((error: unknown) => {
    throw kind === "vulkan" ? new Error(vulkanUnavailableReason(error)) : error;
  });
}
