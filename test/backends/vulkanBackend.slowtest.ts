/**
 * The Vulkan backend (node-llama-cpp's prebuilt Vulkan build) runs the shared backend contract for
 * real on Debian's lavapipe (mesa-vulkan-drivers), and gives the CPU backend's greedy output.
 * llama.cpp skips CPU-type Vulkan devices unless GGML_VK_VISIBLE_DEVICES names them, and then
 * silently runs on the CPU — so the test also checks the device and the offloaded layers.
 * Slow (lavapipe shades on the CPU): run by `npm run test:slow`.
 */
process.env.GGML_VK_VISIBLE_DEVICES = "0";

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { LlamaCppBackend } from "../../hal/backends/llamaCpp/LlamaCppBackend.js";
import { probeVulkanDevices } from "../../hal/backends/llamaCpp/probeVulkanDevices.js";
import { testModelPath } from "../support/testModels.js";
import { collect, describeBackendContract, jobFor } from "./backendContract.js";

const vulkan = await probeVulkanDevices();
const skip = vulkan.available ? false : `no Vulkan device (${vulkan.reason}); install mesa-vulkan-drivers libvulkan1`;
const loadOptions = { modelPath: testModelPath(), contextSize: 256, parallelSequences: 2, threads: 2 };

describe("Vulkan backend on lavapipe", { skip }, () => {
  describeBackendContract({
    name: "llama.cpp vulkan",
    createBackend: () => new LlamaCppBackend({ kind: "vulkan" }),
    loadOptions,
  });

  describe("really on the Vulkan device", () => {
    const gpu = new LlamaCppBackend({ kind: "vulkan" });
    const cpu = new LlamaCppBackend({ kind: "cpu" });
    before(async () => {
      await gpu.load(loadOptions);
      await cpu.load(loadOptions);
    });
    after(async () => {
      await gpu.unload();
      await cpu.unload();
    });

    it("lists the Vulkan device and offloads every layer", () => {
      const info = gpu.info();
      assert.equal(info.kind, "vulkan");
      assert.ok(
        info.devices.some((name) => /llvmpipe|lavapipe/i.test(name)),
        info.devices.join(", "),
      );
      assert.ok(info.gpuLayers > 0, `gpuLayers ${info.gpuLayers}`);
    });

    it("backend.gpuLayers offloads only that many layers, and the greedy output stays the same", async () => {
      const partial = new LlamaCppBackend({ kind: "vulkan", gpuLayers: 1 });
      await partial.load(loadOptions);
      try {
        assert.equal(partial.info().gpuLayers, 1);
        assert.ok(gpu.info().gpuLayers > 1, `all layers: ${gpu.info().gpuLayers}`);
        const job = jobFor("The lighthouse keeper said", { maxTokens: 16 });
        assert.equal((await collect(partial, job)).result.text, (await collect(cpu, job)).result.text);
      } finally {
        await partial.unload();
      }
    });

    it("gives the CPU backend's greedy output", async () => {
      const job = jobFor("The lighthouse keeper said", { maxTokens: 16 });
      const [onGpu, onCpu] = [await collect(gpu, job), await collect(cpu, job)];
      assert.equal(onGpu.result.text, onCpu.result.text);
    });
  });
});
