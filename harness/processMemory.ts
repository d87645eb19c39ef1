/**
 * A process's memory as /proc/PID/smaps_rollup counts it: anonymous, file-backed (RSS less anonymous
 * less shmem) and proportional (PSS: a page shared with another process counted by its share, so a
 * model mapped by two processes is counted once between them), in MiB.
 */
import { readFileSync } from "node:fs";

export interface ProcessMemory {
  rssMiB: number;
  anonMiB: number;
  fileMiB: number;
  pssMiB: number;
}

export function processMemory(pid: number): ProcessMemory {
  const text = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? Number.NaN);
  const mib = (value: number) => Math.round((value / 1024) * 10) / 10;
  const rss = kib("Rss");
  const anon = kib("Anonymous");
  return {
    rssMiB: mib(rss),
    anonMiB: mib(anon),
    fileMiB: mib(rss - anon - (kib("Shmem") || 0)),
    pssMiB: mib(kib("Pss")),
  };
}

/** The largest RSS seen (sampled every 50 ms) while `work` runs, with its breakdown. */
export async function peakMemoryDuring<T>(pid: number, work: Promise<T>): Promise<{ result: T; peak: ProcessMemory }> {
  let peak = processMemory(pid);
  const timer = setInterval(() => {
    const now = processMemory(pid);
    if (now.rssMiB > peak.rssMiB) peak = now;
  }, 50);
  try {
    const result = await work;
    const last = processMemory(pid);
    return { result, peak: last.rssMiB > peak.rssMiB ? last : peak };
  } finally {
    clearInterval(timer);
  }
}
