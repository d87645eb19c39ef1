import { basename } from "node:path";
import type { SwapProgress } from "../protocol/messages.js";
import type { LoadTarget } from "./LoadTarget.js";

/**
 * How a swap runs, as NodeStatus reports it: side by side when the old and the new model fit
 * together in the memory the board had for models before the first load (their plans' estimates),
 * else unload-first (the old one drained and freed before the new one loads). An unknown budget
 * (null or not measured) never forces unload-first: nothing says the two do not fit.
 */
export function swapMemoryPlan(
  previous: LoadTarget,
  next: LoadTarget,
  memoryBudget: number | null | undefined,
): SwapProgress {
  const needBytes = previous.plan.memory.needBytes + next.plan.memory.needBytes;
  const haveBytes = memoryBudget ?? null;
  return {
    mode: haveBytes !== null && needBytes > haveBytes ? "unload-first" : "side-by-side",
    from: basename(previous.path),
    to: basename(next.path),
    need_bytes: needBytes,
    have_bytes: haveBytes,
  };
}
