/**
 * Memory: `/proc/meminfo` (MemTotal, MemAvailable, SwapTotal, SwapFree, in kB there, bytes here) and the
 * zram devices (`/sys/block/zram*\/disksize`, and whether `/proc/swaps` uses them as swap). Swap on zram
 * is compressed RAM, not extra memory: the plan fits the model into MemAvailable alone.
 */
import { listProbeDirectory, readProbeFile } from "./probeFileSystem.js";

export interface ZramDevice {
  name: string;
  diskSizeBytes: number | null;
  usedAsSwap: boolean;
}

export interface MemoryReport {
  totalBytes: number | null;
  availableBytes: number | null;
  swapTotalBytes: number | null;
  swapFreeBytes: number | null;
  zram: ZramDevice[];
  reasons: string[];
}

export async function probeMemory(root = "/"): Promise<MemoryReport> {
  const reasons: string[] = [];
  const meminfoRead = await readProbeFile(root, "proc/meminfo");
  const meminfo = meminfoRead.ok ? parseMeminfo(meminfoRead.text) : new Map<string, number>();
  if (!meminfoRead.ok) reasons.push(`memory unknown (${meminfoRead.reason})`);
  const field = (name: string): number | null => {
    const value = meminfo.get(name);
    if (value === undefined && meminfoRead.ok) reasons.push(`/proc/meminfo has no ${name}`);
    return value ?? null;
  };
  const report: MemoryReport = {
    totalBytes: field("MemTotal"),
    availableBytes: field("MemAvailable"),
    swapTotalBytes: field("SwapTotal"),
    swapFreeBytes: field("SwapFree"),
    zram: [],
    reasons,
  };
  const swaps = await readProbeFile(root, "proc/swaps");
  const swapDevices = swaps.ok
    ? swaps.text
        .split("\n")
        .slice(1)
        .map((line) => line.split(/\s+/)[0] ?? "")
    : [];
  for (const name of await listProbeDirectory(root, "sys/block")) {
    if (!/^zram\d+$/.test(name)) continue;
    const size = await readProbeFile(root, `sys/block/${name}/disksize`);
    const diskSizeBytes = size.ok ? Number.parseInt(size.text.trim(), 10) : Number.NaN;
    if (!size.ok) reasons.push(`${name} size unknown (${size.reason})`);
    report.zram.push({
      name,
      diskSizeBytes: Number.isFinite(diskSizeBytes) ? diskSizeBytes : null,
      usedAsSwap: swapDevices.includes(`/dev/${name}`),
    });
  }
  return report;
}

/** `Name:   1234 kB` lines → bytes (lines without a unit, such as HugePages_Total, stay as counts). */
export function parseMeminfo(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    const match = /^([\w()]+):\s+(\d+)(?:\s+(kB))?\s*$/.exec(line);
    if (!match?.[1] || match[2] === undefined) continue;
    values.set(match[1], Number(match[2]) * (match[3] === "kB" ? 1024 : 1));
  }
  return values;
}
