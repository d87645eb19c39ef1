/**
 * A shutdown's grace period: running and queued work may finish within it. It ends early when the
 * scheduler drains, or when the operator asks (a second SIGTERM).
 */
export class GracePeriod {
  private endEarly: (() => void) | undefined;

  /** Resolves after `ms`, or as soon as `end` is called. */
  async wait(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.endEarly = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Ends the period now; a no-op outside one. */
  end(): void {
    this.endEarly?.();
  }

  /** After the period: later drains and requests to end it have nothing to end. */
  close(): void {
    this.endEarly = undefined;
  }
}
