/**
 * What is known about Vulkan: the report's shape and a pure classifier of device names. Enumeration
 * itself (node-llama-cpp's Vulkan build, `getGpuDeviceNames()`) is done by the Vulkan backend and passed
 * to `probeHardware`. The device type matters because a software device (llvmpipe/lavapipe,
 * SwiftShader) runs on the CPU and is never chosen automatically.
 */

export type VulkanDeviceType = "discrete" | "integrated" | "cpu" | "virtual" | "other";

export interface VulkanDevice {
  name: string;
  type: VulkanDeviceType;
}

export interface VulkanReport {
  available: boolean;
  devices: VulkanDevice[];
  reason: string;
}

export const vulkanNotProbed: VulkanReport = {
  available: false,
  devices: [],
  reason: "Vulkan not probed",
};

const classifiers: Array<[RegExp, VulkanDeviceType]> = [
  [/llvmpipe|lavapipe|swiftshader|softpipe|\bcpu\b/i, "cpu"],
  [/virtio|virgl|venus|microsoft basic|direct3d12|vmware|svga|parallels/i, "virtual"],
  [/tegra|orin|xavier/i, "integrated"],
  [/nvidia|geforce|quadro|tesla/i, "discrete"],
  [/radeon\s+(rx|pro|vii)|radeon\s+r[579]\b|instinct|\bmi\d{2,3}\b|firepro/i, "discrete"],
  [/intel.*\barc\b|\barc\s+[ab]\d{3}/i, "discrete"],
  [/mali|v3d|videocore|adreno|powervr|img\s|immortalis|apple/i, "integrated"],
  [/intel|uhd graphics|iris|hd graphics|radeon|radv|vega|amd/i, "integrated"],
];

/** "llvmpipe (LLVM 15.0.6, 256 bits)" → "cpu", "Mali-G610 (panvk)" → "integrated", "NVIDIA H100" → "discrete". */
export function classifyVulkanDeviceName(name: string): VulkanDeviceType {
  for (const [pattern, type] of classifiers) if (pattern.test(name)) return type;
  return "other";
}
