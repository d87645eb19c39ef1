/** doctor's budget line: what the plan's estimate adds up to, with the OS reserve, against the board. */
import { formatBytes } from "../../hal/plan/estimateMemoryBytes.js";
import { type MemoryProfile, osReserveBytes } from "../../hal/plan/planMemoryProfile.js";
/** model + KV + runtime + OS reserve = total, against the board's memory and what is available now. */
export function memoryBudgetLine(
  memory: MemoryProfile,
  totalBytes: number | null,
  availableBytes: number | null,
): string {
  const e = memory.estimate;
  const sum = e.totalBytes + osReserveBytes;
  const board =
    totalBytes === null
      ? "board memory unknown"
      : `${formatBytes(totalBytes)} total${availableBytes === null ? "" : `, ${formatBytes(availableBytes)} available`}`;
  const verdict = memory.budgetBytes === null ? "unchecked" : memory.fits ? "fits" : "does NOT fit";
  return `model ${formatBytes(e.modelBytes)} + KV ${formatBytes(e.kvCacheBytes)} + runtime ${formatBytes(e.overheadBytes)} (compute buffers ${formatBytes(e.computeBufferBytes)}, daemon ${formatBytes(e.runtimeBytes)}) + OS reserve ${formatBytes(osReserveBytes)} = ${formatBytes(sum)} vs ${board} → ${verdict}`;
}
