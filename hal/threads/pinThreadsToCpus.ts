/**
 * Pins the process's threads to the plan's cores (hal/plan/chooseCpuCores: the big cluster on
 * big.LITTLE, where one thread on a little core slows every decode step): sched_setaffinity through
 * koffi for every task in /proc/self/task. Threads started later — llama.cpp's workers, the
 * persistent threadpool — inherit the mask of the thread that starts them, so pinning before the
 * model loads pins the inference threads. Like systemd's CPUAffinity=, it covers the whole process.
 */
import { readdirSync, readFileSync } from "node:fs";
import koffi from "koffi";

export type PinResult =
  | { kind: "pinned"; cpus: number[]; threads: number }
  /** Nothing to pin to here: no planned cores, or none this process may use. */
  | { kind: "skipped"; reason: string }
  /** The kernel or libc refused. */
  | { kind: "failed"; reason: string };

/** glibc's cpu_set_t: 1024 CPUs, one bit each. */
const cpuSetBytes = 128;
const noSuchTask = 3; // ESRCH: the thread ended between the listing and the call

type SetAffinity = (pid: number, size: number, mask: Buffer) => number;
let setAffinity: SetAffinity | undefined;
/** The CPUs this process could use before it pinned itself (a later plan may choose others among them). */
let startingCpus: number[] | undefined;

/** "0-3,6" → [0, 1, 2, 3, 6] (the kernel's cpu list format). */
export function parseCpuList(text: string): number[] {
  const cpus: number[] = [];
  for (const part of text.trim().split(",")) {
    if (part === "") continue;
    const [first, last] = part.split("-").map(Number) as [number, number | undefined];
    for (let cpu = first; cpu <= (last ?? first); cpu++) cpus.push(cpu);
  }
  return cpus;
}

/** The CPUs a thread of this process may run on, from /proc/self/task/<tid>/status (or the process's). */
export function allowedCpus(tid?: number): number[] {
  const status = readFileSync(tid === undefined ? "/proc/self/status" : `/proc/self/task/${tid}/status`, "utf8");
  const line = status.split("\n").find((entry) => entry.startsWith("Cpus_allowed_list:"));
  return line === undefined ? [] : parseCpuList(line.slice(line.indexOf(":") + 1));
}

function maskOf(cpus: readonly number[]): Buffer {
  const mask = Buffer.alloc(cpuSetBytes);
  // cpu_set_t is an array of unsigned longs; on little-endian machines (arm64, x86) bit n is in byte n/8.
  for (const cpu of cpus) mask[cpu >> 3] = (mask[cpu >> 3] as number) | (1 << (cpu & 7));
  return mask;
}

function loadSetAffinity(): SetAffinity {
  setAffinity ??= koffi
    .load("libc.so.6")
    .func("int sched_setaffinity(int pid, size_t cpusetsize, const uint8_t *mask)") as SetAffinity;
  return setAffinity;
}

/**
 * Pins every thread of the process to the planned CPUs that it may run on. Skips (saying why) when
 * the plan names no CPUs, or none of them is available here (a plan for another board's tree).
 */
export function pinThreadsToCpus(planned: readonly number[]): PinResult {
  if (planned.length === 0) return { kind: "skipped", reason: "the plan names no cores" };
  if (process.platform !== "linux") return { kind: "skipped", reason: `not on Linux (${process.platform})` };
  startingCpus ??= allowedCpus();
  const available = new Set(startingCpus);
  const cpus = [...new Set(planned)].filter((cpu) => available.has(cpu) && cpu < cpuSetBytes * 8).sort((a, b) => a - b);
  if (cpus.length === 0)
    return {
      kind: "skipped",
      reason: `none of the planned cores ${planned.join(",")} is available to this process (${startingCpus.join(",")})`,
    };
  let call: SetAffinity;
  try {
    call = loadSetAffinity();
  } catch (error) {
    return { kind: "failed", reason: `sched_setaffinity is not reachable: ${(error as Error).message}` };
  }
  const mask = maskOf(cpus);
  let threads = 0;
  for (const task of readdirSync("/proc/self/task")) {
    if (call(Number(task), cpuSetBytes, mask) === 0) threads += 1;
    else if (koffi.errno() !== noSuchTask)
      return { kind: "failed", reason: `sched_setaffinity failed for thread ${task} (errno ${koffi.errno()})` };
  }
  return { kind: "pinned", cpus, threads };
}
