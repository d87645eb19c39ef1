import { join } from "node:path";
import type { Backend, BackendKind } from "../../hal/backends/Backend.js";
import { LlamaCppBackend } from "../../hal/backends/llamaCpp/LlamaCppBackend.js";
import type { SequenceStateEvent } from "../../hal/backends/llamaCpp/SequenceStateStore.js";
import { RkllmBackend } from "../../hal/backends/rkllm/RkllmBackend.js";
import type { TinyllamadConfig } from "../config/configSchema.js";
import type { Logger } from "../logging/createLogger.js";
import { resolveStateDirectory } from "../stateDirectory.js";

/** What the daemon watches of a backend it creates (metrics). */
export interface BackendObservers {
  onDecodeBatch?: ((sequences: number) => void) | undefined;
  onSequenceState?: ((event: SequenceStateEvent) => void) | undefined;
}

/** A fresh, unloaded backend of a kind, set up from the config. */
export function createBackend(
  kind: BackendKind,
  config: TinyllamadConfig,
  /** The llama.cpp component's logger. */
  log: Logger,
  observers: BackendObservers = {},
): Backend {
  const onLog = (level: "warn" | "error", message: string) => log[level]({}, message);
  const { persistentThreadpool, flashAttention, useMmap, prefillChunkTokens, prefixReuse, gpuLayers } = config.backend;
  const { onDecodeBatch, onSequenceState } = observers;
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
        // Disk states are reuse too: off with it (cold benchmarks).
        ...(prefixReuse
          ? {
              sequenceStates: {
                directory: join(resolveStateDirectory(config.state.directory), "sequence-states"),
                maxBytes: config.backend.sequenceStateMaxBytes,
                minTokens: config.backend.sequenceStateMinTokens,
              },
            }
          : {}),
        ...(onSequenceState ? { onSequenceState } : {}),
      });
    case "npu":
      return new RkllmBackend({ libraryPath: config.npu.libraryPath || undefined });
  }
}
