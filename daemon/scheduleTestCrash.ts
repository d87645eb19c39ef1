/**
 * TEST-ONLY hook for test/daemon/crashPolicy.e2e.test.ts: with TINYLLAMAD_TEST_CRASH=uncaught (or
 * =rejection) in the environment, the daemon throws an exception nothing catches (or rejects a
 * promise nothing handles) just after it starts serving, so the test can watch the crash policy
 * (installCrashPolicy) end the process. Without the variable this does nothing. It gives no power
 * beyond what setting the environment already gives: whoever sets it could stop the process anyway.
 */
import type { Logger } from "./logging/createLogger.js";

export const testCrashVariable = "TINYLLAMAD_TEST_CRASH";

export function scheduleTestCrash(log: Logger, environment: NodeJS.ProcessEnv = process.env): void {
  const kind = environment[testCrashVariable];
  if (kind !== "uncaught" && kind !== "rejection") return;
  log.warn({ component: "daemon", kind }, `${testCrashVariable} is set: crashing on purpose (tests only)`);
  setTimeout(() => {
    if (kind === "uncaught") throw new Error("test crash: an exception nothing catches");
    void Promise.reject(new Error("test crash: a rejection nothing handles"));
  }, 10);
}
