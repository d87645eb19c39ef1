/**
 * How long running generations may go without progress before the liveness check (/healthz,
 * systemd's watchdog) calls them hung.
 *
 * Progress is a token, or a prefill chunk evaluated (Scheduler.onPrefill). The tokens in flight —
 * the prompt chunks being evaluated, or a whole prompt on a runtime that cannot report within a
 * prefill (the NPU's), and one per generation past its prefill — may take longer than
 * `scheduler.stallTimeoutMs` on a slow board, so the limit grows to what they take at the expected
 * prefill rate (hal/plan/expectedPrefillRate.ts, or `scheduler.prefillTokensPerSecond`), times a
 * safety factor for what slows a board down without hanging it: thermal throttling, other sequences'
 * tokens in the same batches, memory pressure. The estimated rate is the CPU's decode bound, so it
 * holds for a decode step too.
 */

/** The expected prefill time is multiplied by this before it can count as a hang. */
export const prefillStallSafetyFactor = 4;

export interface StallLimitInputs {
  /** `scheduler.stallTimeoutMs`: the limit whatever the prompt. */
  stallTimeoutMs: number;
  /** Scheduler.tokensInFlight(). */
  tokensInFlight: number;
  /** The expected prefill rate; null or ≤ 0 when unknown (the limit is then stallTimeoutMs). */
  prefillTokensPerSecond: number | null;
}

export function stallLimitMs(inputs: StallLimitInputs): number {
  const { stallTimeoutMs, tokensInFlight, prefillTokensPerSecond } = inputs;
  if (tokensInFlight <= 0 || prefillTokensPerSecond === null || !(prefillTokensPerSecond > 0)) return stallTimeoutMs;
  const expectedMs = (tokensInFlight * 1000) / prefillTokensPerSecond;
  return Math.max(stallTimeoutMs, Math.ceil(prefillStallSafetyFactor * expectedMs));
}
