/**
 * `/proc/cpuinfo` as typed records: one block per logical processor ("processor : N" … blank line),
 * on ARM (`CPU implementer`, `CPU part`, `Features`) and on x86 (`model name`, `flags`). ARM kernels of
 * the Raspberry Pi append a board block (`Hardware`, `Revision`, `Serial`, `Model`) that has no
 * "processor" line; it is returned separately.
 */

export interface CpuinfoProcessor {
  index: number;
  implementer: string | null;
  part: string | null;
  modelName: string | null;
  features: string[];
}

export interface Cpuinfo {
  processors: CpuinfoProcessor[];
  /** Key/value lines outside any processor block (Raspberry Pi: Hardware, Revision, Serial, Model). */
  board: Record<string, string>;
}

export function parseCpuinfo(text: string): Cpuinfo {
  const processors: CpuinfoProcessor[] = [];
  const board: Record<string, string> = {};
  for (const block of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of block.split("\n")) {
      const colon = line.indexOf(":");
      if (colon < 0) continue;
      fields.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    const index = fields.get("processor");
    if (index === undefined || !/^\d+$/.test(index)) {
      for (const [key, value] of fields) board[key] = value;
      continue;
    }
    const features = fields.get("features") ?? fields.get("flags") ?? "";
    processors.push({
      index: Number(index),
      implementer: fields.get("cpu implementer") ?? null,
      part: fields.get("cpu part") ?? null,
      modelName: fields.get("model name") ?? null,
      features: features.split(/\s+/).filter((feature) => feature.length > 0),
    });
  }
  return { processors, board };
}
