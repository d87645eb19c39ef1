/**
 * The plan: which backend (npu, vulkan, cpu), how many threads on which cores, a context size that fits
 * memory, the viable candidates for calibration, and every reason in words. Pure: it only reads the
 * HardwareReport, the model and the config.
 *
 * Automatic choice: the NPU when the RKNPU driver (≥ 0.9.8 where its version is known), librkllmrt.so and
 * a .rkllm model are all there; Vulkan when a discrete GPU is there; else the CPU. Integrated GPUs (Mali,
 * V3D) are candidates only: on these boards llama.cpp's Vulkan backend measured slower than the CPU
 * (llama.cpp#22682, #17783, #9801), so only calibration may pick them. A CPU-type Vulkan device (llvmpipe)
 * is never a candidate. The config can force any backend; a forced one that cannot work is kept, with a
 * warning, so the backend fails loudly and the daemon falls back.
 */
import type { HardwareReport } from "../probes/probeHardware.js";
import type { VulkanDevice, VulkanDeviceType } from "../probes/vulkanReport.js";
import { chooseCpuCores } from "./chooseCpuCores.js";
import { formatBytes, type KvCacheType } from "./estimateMemoryBytes.js";
import { type MemoryFit, type MemoryProfile, planMemoryProfile } from "./planMemoryProfile.js";

export type PlannedBackend = "cpu" | "vulkan" | "npu";

export interface PlanModelInput {
  /** What `path` is: a GGUF (cpu/vulkan), an .rkllm (npu only), or none (planning without a model). */
  format: "gguf" | "rkllm" | "none";
  path?: string;
  fileBytes: number;
  /** A matching .rkllm model, when one is available beside the GGUF. */
  rkllmPath?: string | undefined;
  /** Size of that .rkllm; defaults to fileBytes. */
  rkllmFileBytes?: number | undefined;
}

export interface PlanConfig {
  backend: "auto" | PlannedBackend;
  /** 0 = automatic. */
  threads: number;
  contextSize: number;
  parallelSequences: number;
  /** KV cache type; "auto" (the default) lets the memory profile choose. */
  kvCacheType?: "auto" | KvCacheType;
  /** Tokens per batch; 0 (the default) lets the memory profile choose. */
  batchSize?: number;
}

export interface BackendPlan {
  backend: PlannedBackend;
  threads: number;
  /** Cores to run on (big cores only on big.LITTLE); empty when unknown (no pinning). */
  cpuList: number[];
  contextSize: number;
  /** Concurrent sequences the board can afford (≤ the configured ones). */
  parallelSequences: number;
  kvCacheType: KvCacheType;
  batchSize: number;
  /** The memory budget behind those four (doctor prints it). */
  memoryProfile: MemoryProfile;
  /** Viable backends in preference order, for calibration and fallback. */
  candidates: PlannedBackend[];
  /** Whether the model fits the memory available at this context (typed: decide on this, not on reasons). */
  memory: MemoryFit;
  /** Human-readable; warnings start with "warning:". */
  reasons: string[];
}

/** RKLLM runtime 1.2.0 (the one tinyllamad binds) needs RKNPU driver 0.9.8 (docs/npu.md). */
export const minimumRknpuDriverVersion = "0.9.8";

interface Assessment {
  viable: boolean;
  reason: string | null;
}

export function planBackend(hardware: HardwareReport, model: PlanModelInput, config: PlanConfig): BackendPlan {
  const reasons: string[] = [describeMachine(hardware)];
  const board = hardware.board.displayName;
  const ggufUsable = model.format !== "rkllm";

  const npu = assessNpu(hardware, model);
  if (npu.reason) reasons.push(`${board}: ${npu.reason}`);
  const vulkanDevices = assessVulkan(hardware, reasons);
  const discrete = vulkanDevices.find((device) => device.type === "discrete");
  const otherGpu = vulkanDevices.find((device) => device.type !== "discrete");

  const candidates: PlannedBackend[] = [];
  if (npu.viable) candidates.push("npu");
  if (ggufUsable) {
    if (discrete) candidates.push("vulkan");
    candidates.push("cpu");
    if (!discrete && otherGpu) candidates.push("vulkan");
  } else {
    reasons.push(`model ${model.path ? `${model.path} ` : ""}is .rkllm: only the NPU can run it → not cpu, not vulkan`);
  }

  let backend: PlannedBackend;
  if (config.backend !== "auto") {
    backend = config.backend;
    const software = hardware.vulkan.devices.find((device) => device.type === "cpu");
    if (candidates.includes(backend)) reasons.push(`backend ${backend} forced by config`);
    else if (backend === "vulkan" && ggufUsable && vulkanDevices.length === 0 && software && hardware.vulkan.available)
      reasons.push(
        `warning: backend vulkan forced by config: honoured on ${software.name}, a CPU (software) Vulkan device → expect it slower than the cpu backend`,
      );
    else
      reasons.push(
        `warning: backend ${backend} forced by config but ${whyNot(backend, npu, vulkanDevices, ggufUsable)}; loading it will fail and the daemon falls back`,
      );
  } else if (candidates[0] !== undefined) {
    backend = candidates[0];
    reasons.push(
      `auto → ${backend}${candidates.length > 1 ? ` (candidates for calibration: ${candidates.join(", ")})` : ""}`,
    );
  } else {
    backend = "npu";
    reasons.push(
      `warning: auto → npu, the only backend for an .rkllm model, but ${whyNot("npu", npu, vulkanDevices, ggufUsable)}`,
    );
  }

  const cores = chooseCpuCores(hardware.cpu, config.threads);
  reasons.push(...cores.reasons);

  const modelFileBytes = backend === "npu" ? (model.rkllmFileBytes ?? model.fileBytes) : model.fileBytes;
  const memory = planMemoryProfile({
    contextSize: config.contextSize,
    parallelSequences: config.parallelSequences,
    kvCacheType: config.kvCacheType ?? "auto",
    batchSize: config.batchSize ?? 0,
    modelFileBytes,
    totalBytes: hardware.memory.totalBytes,
    availableBytes: hardware.memory.availableBytes ?? hardware.memory.totalBytes,
  });
  reasons.push(...memory.reasons);

  const throttling = hardware.thermal.raspberryPiThrottling;
  if (throttling?.now.underVoltage)
    reasons.push(
      "warning: the Raspberry Pi reports under-voltage now → expect throttled speed (use a proper power supply)",
    );
  else if (throttling?.now.throttled || throttling?.now.frequencyCapped)
    reasons.push("warning: the Raspberry Pi is throttled now → expect lower speed (cooling)");

  return {
    backend,
    threads: cores.threads,
    cpuList: cores.cpuList,
    contextSize: memory.contextSize,
    parallelSequences: memory.parallelSequences,
    kvCacheType: memory.kvCacheType,
    batchSize: memory.batchSize,
    memory: memory.fit,
    memoryProfile: memory,
    candidates,
    reasons,
  };
}

function assessNpu(hardware: HardwareReport, model: PlanModelInput): Assessment {
  const { npu, board } = hardware;
  const rkllm = model.format === "rkllm" ? (model.path ?? "(model)") : model.rkllmPath;
  const rockchip = board.id === "opi5" || board.id === "rk3588";
  if (!npu.present)
    return {
      viable: false,
      reason:
        rockchip || rkllm || npu.runtimeLibrary
          ? `no RKNPU driver found (${npu.reasons[0] ?? "no evidence"}) → not npu`
          : null,
    };
  const driver = npu.driverVersion ? `NPU driver v${npu.driverVersion}` : "NPU driver (version unknown)";
  if (npu.driverVersion && compareVersions(npu.driverVersion, minimumRknpuDriverVersion) < 0)
    return {
      viable: false,
      reason: `${driver} is older than the ${minimumRknpuDriverVersion} that RKLLM runtime 1.2.0 needs → not npu (upgrade the board image)`,
    };
  if (npu.runtimeLibrary === null) return { viable: false, reason: `${driver} found but no librkllmrt.so → not npu` };
  if (!rkllm)
    return { viable: false, reason: `${driver} and ${npu.runtimeLibrary} found, but no .rkllm model → not npu` };
  return { viable: true, reason: `${driver}, ${npu.runtimeLibrary} and ${rkllm} all found → npu is viable` };
}

function assessVulkan(hardware: HardwareReport, reasons: string[]): VulkanDevice[] {
  const { vulkan } = hardware;
  if (!vulkan.available) {
    reasons.push(`Vulkan not available (${vulkan.reason}) → not vulkan`);
    return [];
  }
  const usable: VulkanDevice[] = [];
  for (const device of vulkan.devices) {
    if (device.type === "cpu") {
      reasons.push(`Vulkan device ${device.name} is a CPU (software) device → never chosen automatically`);
      continue;
    }
    usable.push(device);
    if (device.type === "discrete") reasons.push(`Vulkan device ${device.name} is a discrete GPU → vulkan is viable`);
    else
      reasons.push(
        `Vulkan device ${device.name} is ${typeName(device.type)}: llama.cpp's Vulkan backend has measured slower than the CPU on such GPUs → a candidate for calibration only, not chosen without measuring`,
      );
  }
  if (vulkan.devices.length === 0) reasons.push("Vulkan loader found but no device → not vulkan");
  return usable;
}

function whyNot(backend: PlannedBackend, npu: Assessment, vulkan: VulkanDevice[], ggufUsable: boolean): string {
  if (backend === "npu") return npu.reason?.replace(/ → not npu.*$/, "") ?? "the NPU is not usable";
  if (!ggufUsable) return `the model is .rkllm, which ${backend} cannot run`;
  if (backend === "vulkan" && vulkan.length === 0) return "there is no usable (non-CPU) Vulkan device";
  return `${backend} is not viable`;
}

function typeName(type: VulkanDeviceType): string {
  return type === "integrated" ? "an integrated GPU" : type === "virtual" ? "a virtual GPU" : "a GPU of unknown kind";
}

function describeMachine(hardware: HardwareReport): string {
  const { board, cpu, memory } = hardware;
  const cores = cpu.cores === null ? "cores unknown" : `${cpu.cores} cores`;
  const mem =
    memory.totalBytes === null
      ? "memory unknown"
      : `${formatBytes(memory.totalBytes)} memory${memory.availableBytes === null ? "" : ` (${formatBytes(memory.availableBytes)} available)`}`;
  return `${board.displayName}: ${cores}, ${mem}`;
}

/** Numeric comparison of dotted versions: "0.9.10" > "0.9.8". */
export function compareVersions(a: string, b: string): number {
  const left = a.split(".").map(Number);
  const right = b.split(".").map(Number);
  for (let i = 0; i < Math.max(left.length, right.length); i += 1) {
    const difference = (left[i] ?? 0) - (right[i] ?? 0);
    if (difference !== 0) return Math.sign(difference);
  }
  return 0;
}
