/** Small statistics helpers shared by the benchmarks. */

export interface Summary {
  median: number;
  min: number;
  max: number;
  samples: number[];
}

export function summarize(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median =
    sorted.length === 0
      ? Number.NaN
      : sorted.length % 2 === 1
        ? (sorted[middle] ?? Number.NaN)
        : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
  return { median, min: sorted[0] ?? Number.NaN, max: sorted.at(-1) ?? Number.NaN, samples };
}

/** One generation's timing: time to first token and decode rate after it. */
export interface GenerationTiming {
  ttftMs: number;
  decodeTokensPerSecond: number;
  /** Generated tokens: the server's own count (usage) where it reports one, else the messages. */
  tokens: number;
}

/**
 * `tokens`: the generated-token count the server reports (a message may carry more than one token);
 * the decode rate counts the tokens after the first over the time from the first message to the last.
 */
export function timingFrom(startedAt: number, messageTimes: number[], tokens = messageTimes.length): GenerationTiming {
  const first = messageTimes[0] ?? Number.NaN;
  const last = messageTimes.at(-1) ?? Number.NaN;
  return {
    ttftMs: first - startedAt,
    decodeTokensPerSecond: tokens > 1 && last > first ? ((tokens - 1) * 1000) / (last - first) : Number.NaN,
    tokens,
  };
}

/**
 * Spread of paired ratios (one per round of legs run in turns): median, min–max and a 95 % interval
 * of the mean (Student's t), and the verdict against a target: "met" when the whole interval is at or
 * above it, "not met" when wholly below, else "within noise".
 */
export interface RatioSpread {
  median: number;
  min: number;
  max: number;
  mean: number;
  ci95: [number, number];
  n: number;
  target?: number;
  verdict?: "met" | "not met" | "within noise";
}

const t975 = [Number.NaN, 12.71, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179];

export function ratioSpread(ratios: number[], target?: number, higherIsBetter = true): RatioSpread {
  const valid = ratios.filter(Number.isFinite);
  const s = summarize(valid);
  const n = valid.length;
  const mean = valid.reduce((a, b) => a + b, 0) / Math.max(1, n);
  const sd = Math.sqrt(valid.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, n - 1));
  const half = n > 1 ? (t975[Math.min(n - 1, t975.length - 1)] ?? 2) * (sd / Math.sqrt(n)) : Number.POSITIVE_INFINITY;
  const ci95: [number, number] = [mean - half, mean + half];
  const spread: RatioSpread = { median: s.median, min: s.min, max: s.max, mean, ci95, n };
  if (target === undefined) return spread;
  const [low, high] = higherIsBetter ? ci95 : [-ci95[1], -ci95[0]];
  const goal = higherIsBetter ? target : -target;
  const verdict = low >= goal ? "met" : high < goal ? "not met" : "within noise";
  return { ...spread, target, verdict };
}
