/**
 * node-llama-cpp's gpuLayers for a backend kind and the backend.gpuLayers setting: none on the CPU
 * build; on Vulkan "max" for -1 (every layer), else that many layers (the rest run on the CPU).
 */
export function gpuLayersToOffload(kind: "cpu" | "vulkan", configured = -1): number | "max" {
  if (kind === "cpu") return 0;
  return configured < 0 ? "max" : configured;
}
