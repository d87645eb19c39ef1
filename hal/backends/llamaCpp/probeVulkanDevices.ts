/**
 * Fills the HAL's VulkanReport from node-llama-cpp's Vulkan build: whether it loads (a Vulkan loader
 * and the prebuilt binary) and which devices llama.cpp would use. llama.cpp skips CPU-type devices
 * (llvmpipe) unless GGML_VK_VISIBLE_DEVICES names them, so those appear only when asked for.
 */
import { getLlama, LlamaLogLevel } from "node-llama-cpp";
import { classifyVulkanDeviceName, type VulkanReport } from "../../probes/vulkanReport.js";
import { vulkanUnavailableReason } from "./vulkanUnavailableReason.js";

export async function probeVulkanDevices(): Promise<VulkanReport> {
  let llama: Awaited<ReturnType<typeof getLlama>> | undefined;
  try {
    llama = await getLlama({ gpu: "vulkan", build: "never", logLevel: LlamaLogLevel.disabled });
    if (llama.gpu !== "vulkan")
      return { available: false, devices: [], reason: "node-llama-cpp's Vulkan build did not load" };
    const names = await llama.getGpuDeviceNames();
    if (names.length === 0)
      return { available: false, devices: [], reason: "the Vulkan build loaded but llama.cpp found no usable device" };
    return {
      available: true,
      devices: names.map((name) => ({ name, type: classifyVulkanDeviceName(name) })),
      reason: `Vulkan devices: ${names.join(", ")}`,
    };
  } catch (error) {
    return { available: false, devices: [], reason: vulkanUnavailableReason(error) };
  } finally {
    await llama?.dispose();
  }
}
