/**
 * Who a process is, in a form that survives PID reuse: its pid, the kernel's boot id (a new random
 * value at every boot) and the process's start time (clock ticks since boot, from /proc/<pid>/stat).
 * A pid alone is not enough: a board that reboots starts the same services in the same order and
 * hands out the same pids, so a lock naming "pid 812" may name an unrelated process, or the
 * pulling process itself. None of this reads the wall clock, which a board without a real-time
 * clock sets wrong until NTP answers.
 */
import { readFileSync } from "node:fs";

export interface ProcessIdentity {
  pid: number;
  /** /proc/sys/kernel/random/boot_id; undefined where the kernel has none (not Linux). */
  bootId: string | undefined;
  /** Field 22 of /proc/<pid>/stat; undefined where it cannot be read. */
  startTime: string | undefined;
}

export function currentBootId(procRoot = "/proc"): string | undefined {
  try {
    return readFileSync(`${procRoot}/sys/kernel/random/boot_id`, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The start time of a live pid, or undefined if it has no /proc entry (gone, or not Linux). */
export function processStartTime(pid: number, procRoot = "/proc"): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`${procRoot}/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may itself hold spaces or ')': count from the last one.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return fields[19]; // field 22 overall; the slice starts at field 3
}

export function ownProcessIdentity(): ProcessIdentity {
  return { pid: process.pid, bootId: currentBootId(), startTime: processStartTime(process.pid) };
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"; // exists, owned by another user
  }
}

/**
 * Whether the process a lock names still runs: false when it ran in an earlier boot, when its pid
 * is gone, or when the pid now belongs to a process started at another time (reused). Where an
 * identity lacks the boot id or start time (an older lock, or no /proc), only the pid is judged.
 */
export function isSameProcessAlive(holder: ProcessIdentity): boolean {
  const bootId = currentBootId();
  if (holder.bootId !== undefined && bootId !== undefined && holder.bootId !== bootId) return false;
  if (!isProcessAlive(holder.pid)) return false;
  if (holder.startTime === undefined) return true;
  const startTime = processStartTime(holder.pid);
  return startTime === undefined || startTime === holder.startTime;
}
