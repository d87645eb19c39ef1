import type { Backend, BackendKind } from "../../hal/backends/Backend.js";
import { LlamaCppBackend } from "../../hal/backends/llamaCpp/LlamaCppBackend.js";
import { RkllmBackend } from "../../hal/backends/rkllm/RkllmBackend.js";
import type { TinyllamadConfig } from "../config/configSchema.js";
import type { Logger } from "../logging/createLogger.js";

/** A fresh, unloaded backend of a kind, set up from the config. */
export function createBackend(
  kind: BackendKind,
  config: TinyllamadConfig,
  /** The llama.cpp component's logger. */
  log: Logger,
  onDecodeBatch?: (sequences: number) => void,
): Backend {
  const onLog = (level: "warn" | "error", message: string) => log[level]({}, message);
  const { persistentThreadpool, flashAttention, useMmap, prefillChunkTokens, prefixReuse, gpuLayers } = config.backend;
  switch (kind) {
    case "cpu":
    case "vulkan":
      return new LlamaCppBackend({
        kind,
        onLog,
        persistentThreadpool,
        flashAttention,
        useMmap,
        prefixReuse,
        ...(onDecodeBatch ? { onDecodeBatch } : {}),
        prefillChunkTokens,
        gpuLayers,
      });
    case "npu":
      return new RkllmBackend({ libraryPath: config.npu.libraryPath || undefined });
  }
}
