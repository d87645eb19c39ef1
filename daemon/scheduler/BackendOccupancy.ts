import type { Backend } from "../../hal/backends/Backend.js";

/**
 * Generations still running on each backend: after a swap the old backend finishes what it runs
 * while new work goes to the new one, and it may be freed only once its last generation ended.
 */
export class BackendOccupancy {
  private readonly runningOn = new Map<Backend, number>();
  private readonly idleWaiters = new Map<Backend, () => void>();

  started(backend: Backend): void {
    this.runningOn.set(backend, (this.runningOn.get(backend) ?? 0) + 1);
  }

  ended(backend: Backend): void {
    const left = (this.runningOn.get(backend) ?? 1) - 1;
    this.runningOn.set(backend, left);
    if (left === 0) {
      this.idleWaiters.get(backend)?.();
      this.idleWaiters.delete(backend);
    }
  }

  /** Whether a generation still runs on the backend. */
  isBusy(backend: Backend): boolean {
    return (this.runningOn.get(backend) ?? 0) > 0;
  }

  /** Resolves once the last generation running on a busy backend has ended. */
  untilIdle(backend: Backend): Promise<void> {
    return new Promise<void>((resolve) => this.idleWaiters.set(backend, resolve));
  }
}
