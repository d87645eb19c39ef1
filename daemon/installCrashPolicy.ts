/**
 * Crash-only: an exception that escapes every guard (`uncaughtException`) or a promise rejection
 * that nothing handles (`unhandledRejection`) means the process is in a state nobody planned for.
 * It is logged at fatal with its stack and the process exits at once with EX_SOFTWARE (70);
 * systemd's Restart=on-failure starts a clean one. Serving on in an unknown state is never safer.
 */
import type { Logger } from "./logging/createLogger.js";

/** sysexits' EX_SOFTWARE: an internal software error (not 78, which systemd is told not to restart). */
export const EXIT_SOFTWARE = 70;

export function installCrashPolicy(log: Logger, exit: (code: number) => never = process.exit): void {
  const crash = (kind: string, error: unknown) => {
    try {
      const err = error instanceof Error ? error : new Error(`${kind} with a non-Error value: ${describe(error)}`);
      log.fatal({ component: "daemon", err, kind }, `${kind}: exiting (crash-only; systemd restarts the service)`);
      log.flush();
    } finally {
      exit(EXIT_SOFTWARE);
    }
  };
  process.on("uncaughtException", (error) => crash("uncaught exception", error));
  process.on("unhandledRejection", (reason) => crash("unhandled rejection", reason));
}

/** String(value) throws for an object without a prototype; this does not. */
function describe(value: unknown): string {
  try {
    return String(value);
  } catch {
    return typeof value;
  }
}
