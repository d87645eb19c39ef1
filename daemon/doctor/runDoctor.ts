/**
 * `tinyllamad doctor`: what the HAL found on this board, what it would run and why, whether each
 * catalog model fits, and an expected decode rate. `--root DIR` reads a copy of /proc and /sys
 * instead (as the tests' fixture boards); `--json` for machines.
 */
import { existsSync, statSync } from "node:fs";
import { probeVulkanDevices } from "../../hal/backends/llamaCpp/probeVulkanDevices.js";
import { expectedDecodeRate } from "../../hal/plan/expectedDecodeRate.js";
import { planBackend } from "../../hal/plan/planBackend.js";
import { probeHardware } from "../../hal/probes/probeHardware.js";
import { loadModelCatalog } from "../../models/catalog/modelCatalog.js";
import { checkCatalogModelFit } from "../../models/store/estimateFit.js";
import { BackendManager } from "../backends/BackendManager.js";
import { boardDefaultModel } from "../boardDefaultModel.js";
import { commandSpecs } from "../commands/commandSpecs.js";
import { loadConfig } from "../config/loadConfig.js";
import { parseCommandLine } from "../config/parseConfigArgs.js";
import { createLogger } from "../logging/createLogger.js";
import { NodeStatus } from "../NodeStatus.js";
import { memoryBudgetLine } from "./memoryBudgetLine.js";

/** CPU features that decide which llama.cpp kernels run. */
const interestingFeatures = new Set([
  "asimd",
  "asimddp",
  "i8mm",
  "fphp",
  "asimdhp",
  "sve",
  "sve2",
  "avx",
  "avx2",
  "f16c",
  "fma",
  "avx512f",
  "avx512bw",
  "avx512_vnni",
  "avx_vnni",
]);

export async function runDoctor(args: string[]): Promise<number> {
  const commandLine = parseCommandLine(args, commandSpecs.doctor?.options);
  const values = {
    json: commandLine.options.json === true,
    root: commandLine.options.root as string | undefined,
    arch: commandLine.options.arch as string | undefined,
    recalibrate: commandLine.options.recalibrate === true,
  };
  const { config } = loadConfig({ commandLine });
  if (values.recalibrate) {
    // Only the backend manager: plan and measure, nothing listens or serves.
    const log = createLogger({ level: "warn" });
    const backends = new BackendManager({
      config: () => config,
      logFor: (component) => log.child({ component }),
      status: new NodeStatus(),
    });
    const { plan, calibration } = await backends.recalibrate();
    if (values.json) console.log(JSON.stringify({ plan, calibration }, null, 2));
    else if (calibration === null)
      console.log(`only one viable backend (${plan.candidates.join(", ")}): nothing to calibrate`);
    else {
      console.log(`calibration: ${calibration.chosen} is fastest`);
      for (const result of calibration.results)
        console.log(
          `  ${result.backend}: ${result.decodeTokensPerSecond === null ? `failed (${result.error})` : `${result.decodeTokensPerSecond.toFixed(1)} tok/s decode, first token after ${result.timeToFirstTokenMs?.toFixed(0)} ms`}`,
        );
    }
    return 0;
  }
  const root = typeof values.root === "string" ? values.root : "/";
  const onThisMachine = root === "/";
  const hardware = await probeHardware(root, {
    arch: typeof values.arch === "string" ? values.arch : undefined,
    vulkan: onThisMachine ? await probeVulkanDevices() : undefined,
    npuLibraryPaths: config.npu.libraryPath ? [config.npu.libraryPath] : [],
  });
  // model.path empty: the board's default, chosen from this (or the --root) board's CPU and memory.
  const defaultModel =
    config.model.path === "" ? boardDefaultModel(hardware, config, { considerStore: onThisMachine }) : null;
  const modelPath = defaultModel?.path ?? config.model.path;
  const modelBytes = existsSync(modelPath)
    ? statSync(modelPath).size
    : (defaultModel?.entry.sizeBytes ?? defaultModel?.entry.approximateSizeBytes ?? 669_000_000);
  const rkllm = config.npu.modelPath && existsSync(config.npu.modelPath) ? config.npu.modelPath : undefined;
  const plan = planBackend(
    hardware,
    { format: "gguf", path: modelPath, fileBytes: modelBytes, rkllmPath: rkllm },
    {
      backend: config.backend.kind,
      threads: config.backend.threads,
      contextSize: config.model.contextSize,
      parallelSequences: config.scheduler.parallelSequences,
      kvCacheType: config.backend.kvCacheType,
      batchSize: config.backend.batchSize,
    },
  );
  const catalog = defaultModel?.catalog ?? loadModelCatalog(config.model.catalog || undefined);
  const memory = {
    totalBytes: hardware.memory.totalBytes ?? 0,
    availableBytes: hardware.memory.availableBytes ?? 0,
  };
  const fits = catalog.models.map((entry) => {
    const report = checkCatalogModelFit(entry, catalog, memory, {
      contextSize: config.model.contextSize,
      sequences: config.scheduler.parallelSequences,
    });
    return { model: entry.name, fits: report.fits, message: report.message };
  });
  const expected = expectedDecodeRate(hardware.board.id, plan.backend, modelBytes);
  const report = {
    board: hardware.board,
    cpu: hardware.cpu,
    memory: hardware.memory,
    thermal: hardware.thermal,
    npu: hardware.npu,
    vulkan: hardware.vulkan,
    model: { path: modelPath, present: existsSync(modelPath), bytes: modelBytes },
    defaultModel: defaultModel
      ? { name: defaultModel.entry.name, fileName: defaultModel.entry.fileName, reasons: defaultModel.reasons }
      : null,
    plan,
    modelFits: fits,
    expectedDecode: expected,
  };
  if (values.json) {
    console.log(JSON.stringify(report, null, 2));
    return 0;
  }
  const gb = (bytes: number | null) => (bytes === null ? "?" : `${(bytes / 2 ** 30).toFixed(1)} GiB`);
  const lines = [
    `board:    ${hardware.board.displayName}${hardware.board.model ? ` — ${hardware.board.model}` : ""}`,
    `cpu:      ${hardware.cpu.arch}, ${hardware.cpu.cores ?? "?"} cores${hardware.cpu.clusters.length > 1 ? ` in ${hardware.cpu.clusters.length} clusters` : ""}; features ${hardware.cpu.features.filter((f) => interestingFeatures.has(f)).join(" ") || "none of note"}`,
    `memory:   ${gb(hardware.memory.totalBytes)} total, ${gb(hardware.memory.availableBytes)} available`,
    `thermal:  ${hardware.thermal.cpuCelsius === null ? "no readable CPU zone" : `${hardware.thermal.cpuCelsius.toFixed(1)} °C`}`,
    `npu:      ${hardware.npu.present ? `present, driver ${hardware.npu.driverVersion ?? "unknown"}, runtime ${hardware.npu.runtimeLibrary ?? "missing"}` : "none"}`,
    `vulkan:   ${hardware.vulkan.reason}`,
    `model:    ${modelPath}${existsSync(modelPath) ? "" : ` (not present: ${defaultModel ? `\`tinyllamad models pull ${defaultModel.entry.name}\`, or the first start pulls it` : "`tinyllamad models pull`"})`}`,
    ...(defaultModel
      ? [
          `default:  ${defaultModel.entry.name} (model.path is empty: this board's default)`,
          ...defaultModel.reasons.map((reason) => `  - ${reason}`),
        ]
      : []),
    "",
    `plan:     ${plan.backend}, ${plan.threads} threads${plan.cpuList.length > 0 ? ` on cores ${plan.cpuList.join(",")}` : ""}, ${plan.parallelSequences} sequence${plan.parallelSequences === 1 ? "" : "s"} × context ${plan.contextSize}, ${plan.kvCacheType} KV cache, batch ${plan.batchSize}; candidates ${plan.candidates.join(", ")}`,
    `budget:   ${memoryBudgetLine(plan.memoryProfile, hardware.memory.totalBytes, hardware.memory.availableBytes)}`,
    ...plan.reasons.map((reason) => `  - ${reason}`),
    `expected: ${expected.tokensPerSecond === null ? "unknown" : `≤ ${expected.tokensPerSecond.toFixed(1)} tok/s decode`} (${expected.basis})`,
    "",
    "catalog models on this board:",
    ...fits.map((fit) => `  ${fit.fits ? "fits   " : "no fit "} ${fit.model}: ${fit.message}`),
  ];
  console.log(lines.join("\n"));
  return 0;
}
