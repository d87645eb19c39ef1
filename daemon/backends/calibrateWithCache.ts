/** Uses the cached calibration for this board, model and runtime, or measures every candidate once. */
import { join } from "node:path";
import type { Backend, BackendKind } from "../../hal/backends/Backend.js";
import {
  type Calibration,
  CalibrationCache,
  calibrateBackends,
  calibrationKey,
} from "../../hal/calibration/calibrateBackends.js";
import type { BackendPlan } from "../../hal/plan/planBackend.js";
import type { HardwareReport } from "../../hal/probes/probeHardware.js";
import type { TinyllamadConfig } from "../config/configSchema.js";
import type { Logger } from "../logging/createLogger.js";
import { packageVersion } from "../packageVersion.js";
import { resolveStateDirectory } from "../stateDirectory.js";
import { nodeLlamaCppVersion } from "./nodeLlamaCppVersion.js";

export async function calibrateWithCache(input: {
  config: TinyllamadConfig;
  plan: BackendPlan;
  hardware: HardwareReport | undefined;
  modelPath: string;
  /** Measure again even when a cached result exists (`doctor --recalibrate`). */
  force: boolean;
  load: (kind: BackendKind) => Promise<Backend>;
  log: Logger;
  onMeasuring?: (text: string) => void;
}): Promise<Calibration> {
  const { config, plan, hardware, modelPath, log } = input;
  const cache = new CalibrationCache(join(resolveStateDirectory(config.state.directory), "calibration.json"));
  const key = calibrationKey({
    board: hardware?.board.model ?? hardware?.board.displayName ?? "unknown",
    cpu: hardware?.cpu.modelName ?? "unknown",
    files: [modelPath, config.npu.modelPath, config.npu.libraryPath].filter(Boolean),
    runtimes: [`node-llama-cpp@${nodeLlamaCppVersion()}`, `tinyllamad@${packageVersion()}`, plan.candidates.join(",")],
  });
  const cached = input.force ? undefined : cache.get(key);
  if (cached) {
    log.info({ chosen: cached.chosen, results: cached.results, measuredAt: cached.measuredAt }, "calibration cached");
    return cached;
  }
  log.info({ candidates: plan.candidates }, "calibrating: measuring each viable backend once");
  input.onMeasuring?.(`calibrating ${plan.candidates.join(" vs ")}`);
  const calibration = await calibrateBackends(plan.candidates, input.load);
  try {
    cache.set(key, calibration);
  } catch (error) {
    // A full or read-only state directory costs only the cache: calibration runs again next start.
    log.warn({ err: (error as NodeJS.ErrnoException).code ?? String(error) }, "could not cache the calibration");
  }
  log.info({ chosen: calibration.chosen, results: calibration.results }, "calibration done");
  return calibration;
}
