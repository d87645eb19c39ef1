/**
 * The CPU: architecture, logical cores, each core's type (`CPU part` → Cortex-A72/A76/A55…), clusters
 * (big vs little, from core type, `cpu_capacity` or cpufreq's `cpuinfo_max_freq`) and the instruction-set
 * features that matter for llama.cpp's kernels (`asimddp`, `fphp`, `i8mm`, `sve` on ARM; `avx2`, `fma`,
 * `f16c`, `avx512f` on x86), as every core reports them (intersection).
 */
import { armCoreName } from "./armCpuParts.js";
import { type ClusterBasis, type CpuCluster, type CpuCore, groupCpuClusters } from "./groupCpuClusters.js";
import { parseCpuinfo } from "./parseCpuinfo.js";
import { listProbeDirectory, readProbeFile } from "./probeFileSystem.js";

export type { CpuCluster, CpuCore } from "./groupCpuClusters.js";

export interface CpuReport {
  /** Node's name for it: "arm64", "arm", "x64", … */
  arch: string;
  /** Logical CPUs; null when neither /proc/cpuinfo nor sysfs says. */
  cores: number | null;
  coreList: CpuCore[];
  clusters: CpuCluster[];
  clusterBasis: ClusterBasis;
  /** True when the cores form more than one cluster (big.LITTLE, or hybrid x86 P/E cores). */
  bigLittle: boolean;
  /** The fastest cluster's cores; every core on a symmetric CPU. */
  bigCores: number[];
  littleCores: number[];
  features: string[];
  /** x86 `model name`, or the big cores' name on ARM ("Cortex-A76"); null when unknown. */
  modelName: string | null;
  reasons: string[];
}

export async function probeCpu(root = "/", arch: string = process.arch): Promise<CpuReport> {
  const reasons: string[] = [];
  const cpuinfoRead = await readProbeFile(root, "proc/cpuinfo");
  const cpuinfo = cpuinfoRead.ok ? parseCpuinfo(cpuinfoRead.text) : { processors: [], board: {} };
  if (!cpuinfoRead.ok) reasons.push(`core types and features unknown (${cpuinfoRead.reason})`);

  let indexes = cpuinfo.processors.map((processor) => processor.index);
  if (indexes.length === 0) {
    indexes = await sysfsCpuIndexes(root);
    if (indexes.length === 0) reasons.push("core count unknown: no processors in /proc/cpuinfo, no cpuN in sysfs");
  }

  const coreList: CpuCore[] = [];
  let missingFrequency = 0;
  for (const index of indexes) {
    const processor = cpuinfo.processors.find((entry) => entry.index === index);
    const maxFrequencyKHz = await readNumber(root, `sys/devices/system/cpu/cpu${index}/cpufreq/cpuinfo_max_freq`);
    const capacity = await readNumber(root, `sys/devices/system/cpu/cpu${index}/cpu_capacity`);
    if (maxFrequencyKHz === null) missingFrequency += 1;
    coreList.push({
      index,
      implementer: processor?.implementer ?? null,
      part: processor?.part ?? null,
      name: armCoreName(processor?.implementer ?? null, processor?.part ?? null) ?? processor?.modelName ?? null,
      maxFrequencyKHz,
      capacity,
    });
  }
  if (missingFrequency > 0 && coreList.length > 0)
    reasons.push(`cpufreq cpuinfo_max_freq missing for ${missingFrequency} of ${coreList.length} cores`);

  const { clusters, basis } = groupCpuClusters(coreList);
  const big = clusters[0];
  const bigCores = big ? big.cpus : [];
  const littleCores = clusters.slice(1).flatMap((cluster) => cluster.cpus);
  return {
    arch,
    cores: coreList.length > 0 ? coreList.length : null,
    coreList,
    clusters,
    clusterBasis: basis,
    bigLittle: clusters.length > 1,
    bigCores,
    littleCores: littleCores.sort((a, b) => a - b),
    features: commonFeatures(cpuinfo.processors.map((processor) => processor.features)),
    modelName: big?.name ?? null,
    reasons,
  };
}

function commonFeatures(perCore: string[][]): string[] {
  const [first, ...rest] = perCore;
  if (first === undefined) return [];
  return first.filter((feature) => rest.every((features) => features.includes(feature)));
}

async function readNumber(root: string, path: string): Promise<number | null> {
  const read = await readProbeFile(root, path);
  if (!read.ok) return null;
  const value = Number.parseInt(read.text.trim(), 10);
  return Number.isFinite(value) ? value : null;
}

async function sysfsCpuIndexes(root: string): Promise<number[]> {
  const online = await readProbeFile(root, "sys/devices/system/cpu/online");
  if (online.ok) return parseCpuRanges(online.text);
  return (await listProbeDirectory(root, "sys/devices/system/cpu"))
    .map((name) => /^cpu(\d+)$/.exec(name)?.[1])
    .filter((index): index is string => index !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
}

/** "0-3,6" → [0,1,2,3,6], the kernel's CPU list format. */
export function parseCpuRanges(text: string): number[] {
  const cpus: number[] = [];
  for (const range of text.trim().split(",")) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(range.trim());
    if (!match) continue;
    const start = Number(match[1]);
    const end = match[2] === undefined ? start : Number(match[2]);
    for (let cpu = start; cpu <= end; cpu += 1) cpus.push(cpu);
  }
  return cpus;
}
