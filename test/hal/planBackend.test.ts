/**
 * planBackend on the real probes of each board fixture: backend, threads, cores, context and reasons;
 * forcing from the config; the memory estimate; and docs/hardware.md's table matching the code.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import {
  daemonRuntimeBytes,
  estimateMemoryBytes,
  tinyLlamaKvBytesPerToken,
} from "../../hal/plan/estimateMemoryBytes.js";
import { compareVersions, type PlanConfig, type PlanModelInput, planBackend } from "../../hal/plan/planBackend.js";
import { osReserveBytes } from "../../hal/plan/planMemoryProfile.js";
import { hardwareDocPath, renderHardwareDoc } from "../../hal/plan/writePlanTable.js";
import { probeBoardFixture } from "./probeBoardFixture.js";

const gguf: PlanModelInput = { format: "gguf", path: "tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf", fileBytes: 669_000_000 };
const auto: PlanConfig = { backend: "auto", threads: 0, contextSize: 2048, parallelSequences: 1 };
const rkllm = "/var/lib/tinyllamad/models/tinyllama-1.1b-chat-v1.0-w8a8-rk3588.rkllm";

const has = (reasons: string[], pattern: RegExp) =>
  assert.ok(
    reasons.some((reason) => pattern.test(reason)),
    `no reason matches ${pattern}:\n${reasons.join("\n")}`,
  );

describe("planBackend on the fixture boards", () => {
  it("Raspberry Pi 4: cpu, 4 threads on cores 0-3, V3D only a calibration candidate", async () => {
    const plan = planBackend(await probeBoardFixture("rpi4-4gb"), gguf, auto);
    assert.deepEqual(
      [plan.backend, plan.threads, plan.cpuList, plan.contextSize, plan.candidates],
      ["cpu", 4, [0, 1, 2, 3], 2048, ["cpu", "vulkan"]],
    );
    has(plan.reasons, /V3D 4\.2\.14\.0 is an integrated GPU.*candidate for calibration only/);
    has(plan.reasons, /4 Cortex-A72 cores, all alike → 4 threads on cores 0-3/);
    has(plan.reasons, /fits$/);
  });

  it("Raspberry Pi 5: cpu, 4 threads on cores 0-3", async () => {
    const plan = planBackend(await probeBoardFixture("rpi5-8gb"), gguf, auto);
    assert.deepEqual([plan.backend, plan.threads, plan.cpuList], ["cpu", 4, [0, 1, 2, 3]]);
  });

  it("Orange Pi 5 without NPU: cpu on the A76 cores [4,5,6,7] with 4 threads", async () => {
    const plan = planBackend(await probeBoardFixture("opi5-no-npu"), gguf, auto);
    assert.deepEqual(
      [plan.backend, plan.threads, plan.cpuList, plan.candidates],
      ["cpu", 4, [4, 5, 6, 7], ["cpu", "vulkan"]],
    );
    has(plan.reasons, /big\.LITTLE: using the 4 Cortex-A76 cores 4-7, not the Cortex-A55s \(0-3\)/);
    has(plan.reasons, /Mali-G610 \(panvk\) is an integrated GPU/);
    has(plan.reasons, /no RKNPU driver found .* → not npu/);
  });

  it("Orange Pi 5 with NPU and an .rkllm model: npu, runtime threads on cores 4-7", async () => {
    const plan = planBackend(await probeBoardFixture("opi5-npu"), { ...gguf, rkllmPath: rkllm }, auto);
    assert.deepEqual(
      [plan.backend, plan.threads, plan.cpuList, plan.candidates],
      ["npu", 4, [4, 5, 6, 7], ["npu", "cpu"]],
    );
    has(plan.reasons, /NPU driver v0\.9\.8, \/usr\/lib\/librkllmrt\.so and .*\.rkllm all found → npu is viable/);
  });

  it("Orange Pi 5 with NPU but no .rkllm model: cpu, and says why not npu", async () => {
    const plan = planBackend(await probeBoardFixture("opi5-npu"), gguf, auto);
    assert.deepEqual([plan.backend, plan.cpuList, plan.candidates], ["cpu", [4, 5, 6, 7], ["cpu"]]);
    has(
      plan.reasons,
      /^Orange Pi 5 \(RK3588S\): NPU driver v0\.9\.8 and \/usr\/lib\/librkllmrt\.so found, but no \.rkllm model → not npu$/,
    );
  });

  it("an NPU driver older than 0.9.8 is not used automatically", async () => {
    const hardware = await probeBoardFixture("opi5-npu");
    hardware.npu.driverVersion = "0.9.6";
    const plan = planBackend(hardware, { ...gguf, rkllmPath: rkllm }, auto);
    assert.equal(plan.backend, "cpu");
    has(plan.reasons, /NPU driver v0\.9\.6 is older than the 0\.9\.8 that RKLLM runtime 1\.2\.0 needs → not npu/);
    assert.equal(compareVersions("0.9.10", "0.9.8"), 1);
  });

  it("an .rkllm-only model can only go to the NPU", async () => {
    const onNpu = planBackend(
      await probeBoardFixture("opi5-npu"),
      { format: "rkllm", path: rkllm, fileBytes: 1_200_000_000 },
      auto,
    );
    assert.deepEqual([onNpu.backend, onNpu.candidates], ["npu", ["npu"]]);
    const nowhere = planBackend(
      await probeBoardFixture("rpi4-4gb"),
      { format: "rkllm", path: rkllm, fileBytes: 1_200_000_000 },
      auto,
    );
    assert.deepEqual([nowhere.backend, nowhere.candidates], ["npu", []]);
    has(nowhere.reasons, /^warning: auto → npu, the only backend for an \.rkllm model/);
  });

  it("x86-64 with only llvmpipe: cpu, with the llvmpipe reason; forced vulkan honoured", async () => {
    const hardware = await probeBoardFixture("x86-64-generic");
    const plan = planBackend(hardware, gguf, auto);
    assert.deepEqual([plan.backend, plan.threads, plan.cpuList, plan.candidates], ["cpu", 4, [0, 1, 2, 3], ["cpu"]]);
    has(
      plan.reasons,
      /^Vulkan device llvmpipe \(LLVM 15\.0\.6, 256 bits\) is a CPU \(software\) device → never chosen automatically$/,
    );
    const forced = planBackend(hardware, gguf, { ...auto, backend: "vulkan" });
    assert.equal(forced.backend, "vulkan");
    has(forced.reasons, /^warning: backend vulkan forced by config: honoured on llvmpipe/);
  });

  it("a discrete GPU is chosen automatically", async () => {
    const hardware = await probeBoardFixture("x86-64-generic", {
      vulkan: { available: true, devices: [{ name: "NVIDIA GeForce RTX 4090", type: "discrete" }], reason: "test" },
    });
    const plan = planBackend(hardware, gguf, auto);
    assert.deepEqual([plan.backend, plan.candidates], ["vulkan", ["vulkan", "cpu"]]);
  });

  it("forced npu without an NPU is still npu, with a warning", async () => {
    const plan = planBackend(await probeBoardFixture("rpi4-4gb"), gguf, { ...auto, backend: "npu" });
    assert.equal(plan.backend, "npu");
    has(plan.reasons, /^warning: backend npu forced by config but .*loading it will fail and the daemon falls back$/);
    const forcedCpu = planBackend(
      await probeBoardFixture("opi5-npu"),
      { ...gguf, rkllmPath: rkllm },
      { ...auto, backend: "cpu" },
    );
    assert.equal(forcedCpu.backend, "cpu");
    has(forcedCpu.reasons, /^backend cpu forced by config$/);
  });

  it("configured threads are honoured: within the big cores, or spilling onto the little ones", async () => {
    const hardware = await probeBoardFixture("opi5-no-npu");
    const two = planBackend(hardware, gguf, { ...auto, threads: 2 });
    assert.deepEqual([two.threads, two.cpuList], [2, [4, 5, 6, 7]]);
    const eight = planBackend(hardware, gguf, { ...auto, threads: 8 });
    assert.deepEqual([eight.threads, eight.cpuList], [8, [0, 1, 2, 3, 4, 5, 6, 7]]);
    has(eight.reasons, /little cores 0-3 run too/);
    const sixteen = planBackend(hardware, gguf, { ...auto, threads: 16 });
    has(sixteen.reasons, /^warning: 16 threads set in config, more than the 8 cores/);
  });

  it("Raspberry Pi 4 1 GB, 2048 × 4 sequences: q8_0 KV first, then a smaller batch, fewer sequences and a shorter context, with the reason", async () => {
    const hardware = await probeBoardFixture("rpi4-1gb");
    const q3km: PlanModelInput = { format: "gguf", fileBytes: 550_819_200 };
    const plan = planBackend(hardware, q3km, { ...auto, parallelSequences: 4 });
    assert.deepEqual(
      [plan.kvCacheType, plan.batchSize, plan.parallelSequences, plan.contextSize],
      ["q8_0", 128, 2, 1024],
    );
    has(
      plan.reasons,
      /4 sequences × 2048 tokens, f16 KV, batch 512 needs .*, more than a 726 MiB budget .* → 2 sequences × 1024 tokens, q8_0 KV, batch 128/,
    );
    assert.equal(plan.memoryProfile.fits, true);
    assert.ok(plan.memoryProfile.estimate.totalBytes <= (hardware.memory.availableBytes as number));
    assert.ok(plan.memoryProfile.estimate.totalBytes + osReserveBytes <= (hardware.memory.totalBytes as number));
    has(plan.reasons, /^warning: the Raspberry Pi reports under-voltage now/);
  });

  it("never shrinks below 1 sequence × 256; warns when even that does not fit", async () => {
    const q8: PlanModelInput = { format: "gguf", fileBytes: 1_170_000_000 };
    const plan = planBackend(await probeBoardFixture("rpi4-1gb"), q8, auto);
    assert.deepEqual([plan.parallelSequences, plan.contextSize], [1, 256]);
    assert.equal(plan.memoryProfile.fits, false);
    has(
      plan.reasons,
      /^warning: memory: .* even 1 sequence × 256 tokens, q8_0 KV, batch 128 needs .* → expect swapping or the OOM killer/,
    );
  });

  it("keeps what the config forces (f16 KV, batch 512) and gives up sequences and context instead", async () => {
    const q3km: PlanModelInput = { format: "gguf", fileBytes: 550_819_200 };
    const plan = planBackend(await probeBoardFixture("rpi4-1gb"), q3km, {
      ...auto,
      parallelSequences: 4,
      kvCacheType: "f16",
      batchSize: 512,
    });
    assert.deepEqual([plan.kvCacheType, plan.batchSize], ["f16", 512]);
    assert.ok(plan.parallelSequences * plan.contextSize < 4 * 2048);
  });
});

describe("estimateMemoryBytes", () => {
  it("model + KV cache (f16 or q8_0) + compute buffers for one batch + the daemon's runtime", () => {
    assert.equal(tinyLlamaKvBytesPerToken, 22_528);
    const estimate = estimateMemoryBytes({ modelFileBytes: 669_000_000, contextSize: 2048, parallelSequences: 4 });
    assert.equal(estimate.kvCacheBytes, 22 * 2 * 256 * 2 * 2048 * 4);
    // 512-token ubatch × (32,000 logits + 2 × 2048) × 4 bytes.
    assert.equal(estimate.computeBufferBytes, 512 * (32_000 + 2 * 2048) * 4);
    assert.equal(
      estimate.totalBytes,
      669_000_000 + estimate.kvCacheBytes + estimate.computeBufferBytes + daemonRuntimeBytes,
    );
    const q8 = estimateMemoryBytes({
      modelFileBytes: 669_000_000,
      contextSize: 2048,
      parallelSequences: 4,
      kvCacheType: "q8_0",
      batchSize: 128,
    });
    // q8_0: 34 bytes per 32 values.
    assert.equal(q8.kvCacheBytes, (22 * 2 * 256 * 34 * 2048 * 4) / 32);
    assert.equal(q8.computeBufferBytes, 128 * (32_000 + 2 * 2048) * 4);
  });
});

describe("docs/hardware.md", () => {
  it("holds the plan table that writePlanTable generates from the code today", async () => {
    const committed = await readFile(hardwareDocPath(), "utf8");
    assert.equal(committed, await renderHardwareDoc(committed), "run `node dist/hal/plan/writePlanTable.js`");
  });
});
