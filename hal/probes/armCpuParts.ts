/**
 * ARM's own core designs by `CPU part` (implementer 0x41) as printed in `/proc/cpuinfo`, and which of
 * them are "little" (in-order, efficiency) cores. Source: Linux `arch/arm64/include/asm/cputype.h`.
 */

const armCoreNames: Record<string, string> = {
  "0xd03": "Cortex-A53",
  "0xd04": "Cortex-A35",
  "0xd05": "Cortex-A55",
  "0xd07": "Cortex-A57",
  "0xd08": "Cortex-A72",
  "0xd09": "Cortex-A73",
  "0xd0a": "Cortex-A75",
  "0xd0b": "Cortex-A76",
  "0xd0c": "Neoverse-N1",
  "0xd0d": "Cortex-A77",
  "0xd40": "Neoverse-V1",
  "0xd41": "Cortex-A78",
  "0xd44": "Cortex-X1",
  "0xd46": "Cortex-A510",
  "0xd47": "Cortex-A710",
  "0xd48": "Cortex-X2",
  "0xd49": "Neoverse-N2",
  "0xd4b": "Cortex-A78C",
  "0xd4d": "Cortex-A715",
  "0xd4e": "Cortex-X3",
  "0xd80": "Cortex-A520",
  "0xd81": "Cortex-A720",
  "0xd82": "Cortex-X4",
};

const littleArmParts = new Set(["0xd03", "0xd04", "0xd05", "0xd46", "0xd80"]);

/** Normalises "0xD08" / "0xd08" → "0xd08". */
export function normaliseCpuPart(part: string): string {
  return part.trim().toLowerCase();
}

/** The core's name, e.g. "Cortex-A72"; null for another implementer or an unknown part. */
export function armCoreName(implementer: string | null, part: string | null): string | null {
  if (part === null) return null;
  if (implementer !== null && normaliseCpuPart(implementer) !== "0x41") return null;
  return armCoreNames[normaliseCpuPart(part)] ?? null;
}

export function isLittleArmCore(implementer: string | null, part: string | null): boolean {
  if (part === null) return false;
  if (implementer !== null && normaliseCpuPart(implementer) !== "0x41") return false;
  return littleArmParts.has(normaliseCpuPart(part));
}
