/**
 * Crash-only: an exception nothing catches, or a rejection nothing handles, is logged at fatal with
 * its stack and ends the real daemon process at once with a non-zero status (70), for systemd to
 * restart it. The daemon's test-only hook (TINYLLAMAD_TEST_CRASH, daemon/scheduleTestCrash.ts) makes
 * it hit each path just after it starts serving.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DaemonProcess } from "../../harness/DaemonProcess.js";
import { testDaemonFlags } from "../support/testDaemonFlags.js";

const cases = [
  { kind: "uncaught", message: "uncaught exception", stack: /test crash: an exception nothing catches\n\s+at / },
  { kind: "rejection", message: "unhandled rejection", stack: /test crash: a rejection nothing handles\n\s+at / },
];

describe("crash policy", () => {
  for (const { kind, message, stack } of cases) {
    it(`${message}: a fatal line with the stack, then exit 70 at once`, async () => {
      const daemon = new DaemonProcess(testDaemonFlags(), { TINYLLAMAD_TEST_CRASH: kind });
      await daemon.start();
      const { code, signal } = await daemon.exited();
      assert.equal(signal, null);
      assert.equal(code, 70, `exit status; stderr: ${daemon.stderr}`);
      const fatal = daemon.logLines.find((line) => line.level === "fatal");
      assert.ok(fatal, `a fatal line: ${JSON.stringify(daemon.logLines.slice(-3))}`);
      assert.match(fatal.msg, new RegExp(message));
      assert.match(String((fatal.err as { stack?: unknown } | undefined)?.stack), stack);
      // Crash-only: the process did not try to drain and stop as on SIGTERM.
      assert.ok(!daemon.logLines.some((line) => line.msg === "stopping"));
    });
  }

  it("without the variable, the daemon runs on and stops cleanly on SIGTERM", async () => {
    const daemon = new DaemonProcess(testDaemonFlags());
    await daemon.start();
    assert.equal((await daemon.stop()).code, 0);
    assert.ok(!daemon.logLines.some((line) => line.level === "fatal"));
  });
});
