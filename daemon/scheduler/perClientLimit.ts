/**
 * The most requests one client may have waiting and running together: its share
 * (scheduler.maxQueueSharePerClient, 1 when unset) of what the scheduler admits at once
 * (maxQueue + concurrency), rounded up, at least 1.
 */
export function perClientLimit(settings: {
  maxQueue: number;
  concurrency: number;
  maxQueueSharePerClient?: number | undefined;
}): number {
  const share = settings.maxQueueSharePerClient ?? 1;
  const admitted = settings.maxQueue + settings.concurrency;
  // The epsilon keeps float noise (0.1 × 30 = 3.0000000000000004) from rounding up a whole request.
  return Math.max(1, Math.ceil(share * admitted - 1e-9));
}
