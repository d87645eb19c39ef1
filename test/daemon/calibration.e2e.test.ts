/**
 * Calibration on an Orange Pi 5 board tree (the HAL reads a copy of the fixture): the NPU (the
 * test library implementing librkllmrt.so's ABI) and the CPU are both viable, so the daemon
 * measures each once, runs the faster one, and reuses the cached result on the next start;
 * `doctor --recalibrate` measures again.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { cliPath, DaemonProcess } from "../../harness/DaemonProcess.js";
import { projectRoot } from "../../models/projectCacheDirectory.js";
import { fakeRkllmLibraryPath, fakeRkllmModelPath } from "../support/fakeRkllmRuntime.js";
import { testDaemonFlags } from "../support/testDaemonFlags.js";

const state = mkdtempSync(join(tmpdir(), "tinyllamad-calibration-"));
after(() => rmSync(state, { recursive: true, force: true }));
const args = testDaemonFlags({
  "hal.root": join(projectRoot(), "test", "fixtures", "boards", "opi5-npu"),
  "npu.libraryPath": fakeRkllmLibraryPath(),
  "npu.modelPath": fakeRkllmModelPath(),
  "backend.threads": 2,
  "state.directory": state,
});

describe("calibration", () => {
  it("measures npu and cpu once, serves on the faster, and reuses the result on the next start", async () => {
    const first = new DaemonProcess(args);
    const url = await first.start(120_000);
    const done = first.logLines.find((l) => l.msg === "calibration done") as
      | { chosen: string; results: Array<{ backend: string; decodeTokensPerSecond: number | null }> }
      | undefined;
    assert.ok(done, "calibration ran");
    assert.deepEqual(done.results.map((r) => r.backend).sort(), ["cpu", "npu"]);
    const fastest = [...done.results].sort(
      (a, b) => (b.decodeTokensPerSecond ?? 0) - (a.decodeTokensPerSecond ?? 0),
    )[0];
    assert.equal(done.chosen, fastest?.backend);
    const health = (await (await fetch(`${url.replace("ws://", "http://")}healthz`)).json()) as { backend: string };
    assert.equal(health.backend, done.chosen);
    assert.equal((await first.stop()).code, 0);

    const second = new DaemonProcess(args);
    await second.start(120_000);
    try {
      const cached = second.logLines.find((l) => l.msg === "calibration cached");
      assert.ok(cached, "the second start reuses the calibration");
      assert.equal(cached.chosen, done.chosen);
      assert.ok(!second.logLines.some((l) => l.msg === "calibration done"), "nothing measured again");
    } finally {
      assert.equal((await second.stop()).code, 0);
    }
  });

  it("doctor --recalibrate measures again", () => {
    const result = spawnSync(process.execPath, [cliPath, "doctor", "--recalibrate", "--json", ...args], {
      encoding: "utf8",
      timeout: 120_000,
    });
    assert.equal(result.status, 0, result.stderr);
    const report = JSON.parse(result.stdout) as { calibration: { chosen: string; results: unknown[] } };
    assert.equal(report.calibration.results.length, 2);
    assert.ok(["npu", "cpu"].includes(report.calibration.chosen));
  });
});
