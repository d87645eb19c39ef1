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
  tokens: number;
}

export function timingFrom(startedAt: number, tokenTimes: number[]): GenerationTiming {
  const first = tokenTimes[0] ?? Number.NaN;
  const last = tokenTimes.at(-1) ?? Number.NaN;
  return {
    ttftMs: first - startedAt,
    decodeTokensPerSecond: tokenTimes.length > 1 ? ((tokenTimes.length - 1) * 1000) / (last - first) : Number.NaN,
    tokens: tokenTimes.length,
  };
}
