import type { Scheduler } from "./Scheduler.js";
import { stallLimitMs } from "./stallLimitMs.js";

/**
 * Whether generation makes progress: stalled past scheduler.stallTimeoutMs, and past the limit a long
 * prompt chunk (or a slow decode step) in flight may take on its own, is not alive.
 */
export function checkLiveness(input: {
  scheduler: Scheduler | undefined;
  stallTimeoutMs: number;
  prefillTokensPerSecond: () => number | null;
}): { alive: boolean; reason?: string } {
  const stalledFor = input.scheduler?.stalledForMs() ?? 0;
  if (stalledFor <= input.stallTimeoutMs) return { alive: true };
  const limit = stallLimitMs({
    stallTimeoutMs: input.stallTimeoutMs,
    tokensInFlight: input.scheduler?.tokensInFlight() ?? 0,
    prefillTokensPerSecond: input.prefillTokensPerSecond(),
  });
  if (stalledFor > limit)
    return { alive: false, reason: `generation made no progress for ${Math.round(stalledFor / 1000)} s` };
  return { alive: true };
}
