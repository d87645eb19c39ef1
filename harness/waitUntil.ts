/**
 * Waiting for something a client has received: checked now and again on each event that can change
 * it, never by polling a clock. The timeout only keeps a broken run from hanging; it asserts nothing
 * about speed.
 */
/** Anything with on/off for an event whose arguments the wait ignores (EventEmitter, ws, MQTT.js). */
export interface EventSource<Event extends string> {
  on(event: Event, listener: () => void): unknown;
  off(event: Event, listener: () => void): unknown;
}

export interface WaitUntilOptions<Event extends string> {
  /** Emits `event` after each change the condition depends on (its own listeners run first). */
  source: EventSource<Event>;
  event: Event;
  condition: () => boolean;
  timeoutMs: number;
  /** What was awaited, for the timeout's message (evaluated then, so it can show what did arrive). */
  describe: () => string;
}

export function waitUntil<Event extends string>({
  source,
  event,
  condition,
  timeoutMs,
  describe,
}: WaitUntilOptions<Event>): Promise<void> {
  if (condition()) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const check = () => {
      if (!condition()) return;
      stopWaiting();
      resolve();
    };
    const timer = setTimeout(() => {
      stopWaiting();
      reject(new Error(`timed out waiting for ${describe()}`));
    }, timeoutMs);
    const stopWaiting = () => {
      clearTimeout(timer);
      source.off(event, check);
    };
    source.on(event, check);
  });
}
