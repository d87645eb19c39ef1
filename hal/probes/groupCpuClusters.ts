/**
 * Groups logical CPUs into clusters and marks the fastest cluster "big": by core type (`CPU part`)
 * when the cores differ in type, else by `cpu_capacity`, else by cpufreq's maximum frequency. Values
 * within 15 % of each other count as one cluster, so the RK3588's two A76 pairs (binned at e.g. 2.352
 * and 2.256 GHz) stay one big cluster, and an x86 "favoured core" does not split its P-cores.
 */
import { isLittleArmCore } from "./armCpuParts.js";

export interface CpuCore {
  /** Logical CPU number (cpuN in sysfs, "processor" in /proc/cpuinfo). */
  index: number;
  implementer: string | null;
  part: string | null;
  /** e.g. "Cortex-A76"; x86: the model name; null when unknown. */
  name: string | null;
  maxFrequencyKHz: number | null;
  capacity: number | null;
}

export type ClusterRole = "big" | "little" | "symmetric";

export interface CpuCluster {
  cpus: number[];
  name: string | null;
  part: string | null;
  maxFrequencyKHz: number | null;
  capacity: number | null;
  role: ClusterRole;
}

/** What the grouping was based on, for reasons. */
export type ClusterBasis = "cpu-part" | "cpu-capacity" | "max-frequency" | "none";

const sameClusterRatio = 0.85;

export function groupCpuClusters(cores: CpuCore[]): { clusters: CpuCluster[]; basis: ClusterBasis } {
  if (cores.length === 0) return { clusters: [], basis: "none" };
  const parts = new Set(cores.map((core) => (core.part === null ? null : `${core.implementer}/${core.part}`)));
  let groups: CpuCore[][];
  let basis: ClusterBasis;
  if (parts.size > 1 && !parts.has(null)) {
    basis = "cpu-part";
    groups = [...groupBy(cores, (core) => `${core.implementer}/${core.part}`).values()];
    groups.sort((a, b) => rank(b) - rank(a));
  } else if (differ(cores.map((core) => core.capacity))) {
    basis = "cpu-capacity";
    groups = groupByTolerance(cores, (core) => core.capacity ?? 0);
  } else if (differ(cores.map((core) => core.maxFrequencyKHz))) {
    basis = "max-frequency";
    groups = groupByTolerance(cores, (core) => core.maxFrequencyKHz ?? 0);
  } else {
    basis = "none";
    groups = [cores];
  }
  const clusters = groups.map((group, position) =>
    toCluster(group, groups.length === 1 ? "symmetric" : position === 0 ? "big" : "little"),
  );
  return { clusters, basis };
}

function toCluster(cores: CpuCore[], role: ClusterRole): CpuCluster {
  const first = cores[0];
  return {
    cpus: cores.map((core) => core.index).sort((a, b) => a - b),
    name: first?.name ?? null,
    part: first?.part ?? null,
    maxFrequencyKHz: maxOrNull(cores.map((core) => core.maxFrequencyKHz)),
    capacity: maxOrNull(cores.map((core) => core.capacity)),
    role,
  };
}

/** Higher is faster: ARM's little designs always rank below the others, then capacity, then frequency. */
function rank(group: CpuCore[]): number {
  const first = group[0];
  const little = first !== undefined && isLittleArmCore(first.implementer, first.part);
  const capacity = maxOrNull(group.map((core) => core.capacity)) ?? 0;
  const frequency = maxOrNull(group.map((core) => core.maxFrequencyKHz)) ?? 0;
  return (little ? 0 : 1e15) + capacity * 1e8 + frequency;
}

/** Sorted fastest first; a new group starts when a value falls below 85 % of the current group's top. */
function groupByTolerance(cores: CpuCore[], value: (core: CpuCore) => number): CpuCore[][] {
  const sorted = [...cores].sort((a, b) => value(b) - value(a) || a.index - b.index);
  const groups: CpuCore[][] = [];
  let top = Number.POSITIVE_INFINITY;
  for (const core of sorted) {
    const current = groups.at(-1);
    if (current === undefined || value(core) < top * sameClusterRatio) {
      groups.push([core]);
      top = value(core);
    } else {
      current.push(core);
    }
  }
  return groups;
}

function differ(values: Array<number | null>): boolean {
  if (values.some((value) => value === null)) return false;
  const numbers = values as number[];
  return Math.min(...numbers) < Math.max(...numbers) * sameClusterRatio;
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const name = key(item);
    const group = groups.get(name);
    if (group) group.push(item);
    else groups.set(name, [item]);
  }
  return groups;
}

function maxOrNull(values: Array<number | null>): number | null {
  const known = values.filter((value): value is number => value !== null);
  return known.length === 0 ? null : Math.max(...known);
}
