/** `tinyllamad doctor` on fixture boards and on this machine. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { ExpectedRate } from "../../hal/plan/expectedDecodeRate.js";
import type { BackendPlan } from "../../hal/plan/planBackend.js";
import { cliPath } from "../../harness/DaemonProcess.js";
import { projectRoot } from "../../models/projectCacheDirectory.js";

const boards = join(projectRoot(), "test", "fixtures", "boards");
const fakeRkllm = join(projectRoot(), "test", "fixtures", "rkllm-runtime", "tinyllama-fake.rkllm");

/** The parts of `doctor --json`'s report these tests read (daemon/doctor/runDoctor.ts writes it). */
interface DoctorReport {
  plan: BackendPlan;
  expectedDecode: ExpectedRate;
  modelFits: Array<{ model: string; fits: boolean; message: string }>;
}

function doctor(args: string[]): DoctorReport {
  const result = spawnSync(process.execPath, [cliPath, "doctor", "--json", ...args], {
    encoding: "utf8",
    timeout: 60_000,
  });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout) as DoctorReport;
}

describe("tinyllamad doctor", () => {
  it("Orange Pi 5 with NPU, runtime and a .rkllm model → npu, with the expected rate", () => {
    const report = doctor(["--root", join(boards, "opi5-npu"), "--arch", "arm64", "--npu.modelPath", fakeRkllm]);
    assert.equal(report.plan.backend, "npu");
    assert.deepEqual(report.plan.cpuList, [4, 5, 6, 7]);
    assert.equal(report.expectedDecode.tokensPerSecond, 24.4);
  });

  it("Orange Pi 5 without the NPU → cpu on the A76 cores 4-7, saying why", () => {
    const report = doctor(["--root", join(boards, "opi5-no-npu"), "--arch", "arm64"]);
    assert.equal(report.plan.backend, "cpu");
    assert.equal(report.plan.threads, 4);
    assert.deepEqual(report.plan.cpuList, [4, 5, 6, 7]);
    assert.ok(report.plan.reasons.some((r) => /A76/.test(r)));
    assert.ok((report.expectedDecode.tokensPerSecond ?? 0) > 0, "an expected rate, not unknown");
  });

  it("a 1 GB Raspberry Pi 4 refuses the Q8_0 model and names one that fits", () => {
    const report = doctor([
      "--root",
      join(boards, "rpi4-1gb"),
      "--arch",
      "arm64",
      "--scheduler.parallelSequences",
      "1",
      "--model.contextSize",
      "512",
    ]);
    const q8 = report.modelFits.find((f) => f.model === "tinyllama-1.1b-chat:q8_0");
    assert.ok(q8, "the catalog's Q8_0 model is reported");
    assert.equal(q8.fits, false);
    assert.match(q8.message, /q4/i);
  });

  it("runs on this machine and prints a human report", () => {
    const result = spawnSync(process.execPath, [cliPath, "doctor"], { encoding: "utf8", timeout: 60_000 });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^board: /m);
    assert.match(result.stdout, /^plan: +cpu/m);
    assert.match(result.stdout, /catalog models on this board:/);
  });
});
