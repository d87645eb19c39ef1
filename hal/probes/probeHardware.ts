/**
 * One report of everything the probes find, read below `root` (`/` on a board, a fixture tree in tests).
 * Vulkan is not enumerated here: whoever can (the Vulkan backend, through node-llama-cpp) passes its
 * report in. Nothing here throws for missing files; unknowns carry their reasons.
 */
import { type BoardReport, probeBoard } from "./probeBoard.js";
import { type CpuReport, probeCpu } from "./probeCpu.js";
import { type MemoryReport, probeMemory } from "./probeMemory.js";
import { type NpuReport, probeNpu } from "./probeNpu.js";
import { probeThermal, type ThermalReport } from "./probeThermal.js";
import { type VulkanReport, vulkanNotProbed } from "./vulkanReport.js";

export interface HardwareReport {
  /** The directory the files were read below. */
  root: string;
  board: BoardReport;
  cpu: CpuReport;
  memory: MemoryReport;
  thermal: ThermalReport;
  npu: NpuReport;
  vulkan: VulkanReport;
}

export interface HardwareProbeOptions {
  /** Node's architecture name; defaults to `process.arch`. Fixtures of other machines inject theirs. */
  arch?: string;
  /** Defaults to "not probed" (unavailable). */
  vulkan?: VulkanReport;
  /** More places to look for librkllmrt.so (directories or the library's path). */
  npuLibraryPaths?: string[];
}

export async function probeHardware(root = "/", options: HardwareProbeOptions = {}): Promise<HardwareReport> {
  const arch = options.arch ?? process.arch;
  const [board, cpu, memory, thermal, npu] = await Promise.all([
    probeBoard(root, arch),
    probeCpu(root, arch),
    probeMemory(root),
    probeThermal(root),
    probeNpu(root, { extraLibraryPaths: options.npuLibraryPaths ?? [] }),
  ]);
  return { root, board, cpu, memory, thermal, npu, vulkan: options.vulkan ?? vulkanNotProbed };
}
