/**
 * `model.path` empty = this board's default model: the catalog (model.catalog or the built-in one), the
 * probed hardware and the files already in the store go to chooseDefaultModel; the answer is the entry,
 * its path in the store and the reasons (logged at start, printed by doctor).
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { chooseDefaultModel, type DefaultModelChoice } from "../hal/plan/chooseDefaultModel.js";
import type { HardwareReport } from "../hal/probes/probeHardware.js";
import { loadModelCatalog, type ModelCatalog } from "../models/catalog/modelCatalog.js";
import { defaultStoreDirectory } from "../models/store/defaultModelLocation.js";
import type { TinyllamadConfig } from "./config/configSchema.js";

export interface BoardDefaultModel extends DefaultModelChoice {
  catalog: ModelCatalog;
  storeDirectory: string;
  /** Where the file is (or will be, once pulled). */
  path: string;
}

export interface BoardDefaultModelOptions {
  storeDirectory?: string;
  /** Whether files already in the store count (false for doctor on a copy of another board's /proc). */
  considerStore?: boolean;
}

export function boardDefaultModel(
  hardware: HardwareReport,
  config: Pick<TinyllamadConfig, "model" | "scheduler">,
  options: BoardDefaultModelOptions = {},
): BoardDefaultModel {
  const storeDirectory = options.storeDirectory ?? defaultStoreDirectory();
  const catalog = loadModelCatalog(config.model.catalog || undefined);
  const choice = chooseDefaultModel(hardware, catalog, {
    contextSize: config.model.contextSize,
    parallelSequences: config.scheduler.parallelSequences,
    storedFileNames: (options.considerStore ?? true) ? storedFileNames(storeDirectory) : new Set(),
  });
  return { ...choice, catalog, storeDirectory, path: join(storeDirectory, choice.entry.fileName) };
}

function storedFileNames(directory: string): Set<string> {
  if (!existsSync(directory)) return new Set();
  try {
    return new Set(
      readdirSync(directory, { withFileTypes: true })
        .filter((entry) => entry.isFile() && !entry.name.startsWith("."))
        .map((entry) => entry.name),
    );
  } catch {
    return new Set();
  }
}
