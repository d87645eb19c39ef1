/**
 * Waits for work at most `ms`. The work itself cannot be stopped (a model load runs in native code),
 * so a result that arrives after the time limit goes to `onLate`, which frees it; a late failure is
 * already handled here and never becomes an unhandled rejection.
 */
export async function settleWithin<T>(
  work: Promise<T>,
  ms: number,
  onLate: (value: T) => void,
): Promise<{ done: true; value: T } | { done: false }> {
  let expired = false;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ done: false }>((resolve) => {
    timer = setTimeout(() => {
      expired = true;
      resolve({ done: false });
    }, ms);
  });
  const settled = work.then((value) => {
    if (expired) onLate(value);
    return { done: true as const, value };
  });
  try {
    return await Promise.race([settled, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
