/**
 * Why node-llama-cpp's Vulkan build cannot serve here, in the words doctor and the backend fallback
 * both use. node-llama-cpp tests a binary in a child process before loading it, and that test asks for
 * a usable device: with no Vulkan driver, or a driver that finds no GPU (a board whose Mesa lacks one,
 * or qemu), the build is rejected there and getLlama throws NoBinaryFoundError — so "rejected by the
 * load test" is how "no usable device" shows up, never a loaded build that lists no devices.
 */
import { NoBinaryFoundError } from "node-llama-cpp";

export const vulkanBuildRejected =
  "no usable Vulkan device: node-llama-cpp's Vulkan build failed its load test here (no Vulkan driver, or no device the driver can use)";

export function vulkanUnavailableReason(error: unknown): string {
  if (error instanceof NoBinaryFoundError) return vulkanBuildRejected;
  return `no Vulkan: ${(error as Error).message.split("\n")[0]}`;
}
