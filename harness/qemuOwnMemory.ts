/**
 * What a qemu-user process holds for itself rather than for the program it emulates, read from its
 * /proc/PID/smaps: the translation cache (qemu's one anonymous read-write-execute mapping, where it
 * writes the host code it translated — the emulated program's own pages are never mapped executable
 * on the host), qemu's malloc heap ([heap]: the emulated program's brk heap lives in its own address
 * range, mapped anonymously) and qemu's binary. The rest is the emulated program's memory, counted as
 * it would be on the board. An attribution by mapping, not a measurement on a board.
 */
import { readFileSync } from "node:fs";

export interface QemuOwnMemory {
  translationCacheMiB: number;
  qemuHeapMiB: number;
  qemuBinaryMiB: number;
  /** RSS less the three above. */
  emulatedProgramMiB: number;
}

export function qemuOwnMemory(pid: number): QemuOwnMemory {
  let translation = 0;
  let heap = 0;
  let binary = 0;
  let total = 0;
  let mapping: { permissions: string; path: string } | undefined;
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const header = /^[0-9a-f]+-[0-9a-f]+ (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) {
      mapping = { permissions: header[1] ?? "", path: header[2] ?? "" };
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (!rss || !mapping) continue;
    const kib = Number(rss[1]);
    total += kib;
    if (mapping.path === "" && mapping.permissions === "rwxp") translation += kib;
    else if (mapping.path === "[heap]") heap += kib;
    else if (/qemu/.test(mapping.path)) binary += kib;
  }
  const mib = (kib: number) => Math.round((kib / 1024) * 10) / 10;
  return {
    translationCacheMiB: mib(translation),
    qemuHeapMiB: mib(heap),
    qemuBinaryMiB: mib(binary),
    emulatedProgramMiB: mib(total - translation - heap - binary),
  };
}
