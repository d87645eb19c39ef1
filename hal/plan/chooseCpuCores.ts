/**
 * How many threads and which cores: on big.LITTLE only the big cluster (llama.cpp is as slow as its slowest
 * thread, so the RK3588's A55s make it slower: 3.8 vs 6.9 tok/s, llama.cpp#7176), on symmetric CPUs all
 * cores; a thread count from the config is honoured and explained.
 */
import type { CpuReport } from "../probes/probeCpu.js";

export interface CoreChoice {
  threads: number;
  /** The cores to run on; empty when the core list is unknown (no pinning). */
  cpuList: number[];
  reasons: string[];
}

export function chooseCpuCores(cpu: CpuReport, configuredThreads: number): CoreChoice {
  const all = cpu.coreList.map((core) => core.index);
  if (all.length === 0) {
    const threads = configuredThreads > 0 ? configuredThreads : 1;
    return {
      threads,
      cpuList: [],
      reasons: [`warning: core count unknown → ${threads} thread(s), not pinned (set backend.threads)`],
    };
  }
  const bigName = coreNames(cpu, cpu.bigCores);
  if (configuredThreads > 0) {
    if (configuredThreads > all.length)
      return {
        threads: configuredThreads,
        cpuList: all,
        reasons: [
          `warning: ${configuredThreads} threads set in config, more than the ${all.length} cores → oversubscribed, slower`,
        ],
      };
    if (cpu.bigLittle && configuredThreads > cpu.bigCores.length)
      return {
        threads: configuredThreads,
        cpuList: all,
        reasons: [
          `${configuredThreads} threads set in config: more than the ${cpu.bigCores.length} big ${bigName} cores, so the little cores ${formatCpuList(cpu.littleCores)} run too (usually slower)`,
        ],
      };
    return {
      threads: configuredThreads,
      cpuList: cpu.bigCores,
      reasons: [
        `${configuredThreads} threads set in config, on ${cpu.bigLittle ? "the big " : ""}cores ${formatCpuList(cpu.bigCores)}`,
      ],
    };
  }
  if (cpu.bigLittle)
    return {
      threads: cpu.bigCores.length,
      cpuList: cpu.bigCores,
      reasons: [
        `big.LITTLE: using the ${cpu.bigCores.length} ${bigName} cores ${formatCpuList(cpu.bigCores)}, not the ${coreNames(cpu, cpu.littleCores)}s (${formatCpuList(cpu.littleCores)})`,
      ],
    };
  return {
    threads: all.length,
    cpuList: all,
    reasons: [`${all.length} ${bigName} cores, all alike → ${all.length} threads on cores ${formatCpuList(all)}`],
  };
}

/** [4,5,6,7] → "4-7", [0,2,3] → "0,2-3". */
export function formatCpuList(cpus: number[]): string {
  const sorted = [...cpus].sort((a, b) => a - b);
  const ranges: string[] = [];
  let start = sorted[0];
  let previous = start;
  for (const cpu of [...sorted.slice(1), Number.NaN]) {
    if (start === undefined || previous === undefined) break;
    if (cpu === previous + 1) {
      previous = cpu;
      continue;
    }
    ranges.push(start === previous ? `${start}` : `${start}-${previous}`);
    start = cpu;
    previous = cpu;
  }
  return ranges.join(",");
}

function coreNames(cpu: CpuReport, cpus: number[]): string {
  const names = new Set(cpu.coreList.filter((core) => cpus.includes(core.index)).map((core) => core.name ?? "unknown"));
  return names.size === 1 ? ([...names][0] ?? "unknown") : "mixed";
}
