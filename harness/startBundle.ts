/**
 * Runs an unpacked release bundle's daemon as a board would: its launcher bin/tinyllamad, its own Node runtime
 * (an aarch64 one runs through qemu-user via binfmt_misc, see aarch64Emulation.ts). Shared by the arm64 bundle
 * tests and the bench's arm64 footprint workload.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";

/**
 * Runs the unpacked bundle's launcher (QEMU_CPU=cortex-a72, a Raspberry Pi 4, unless `env` says otherwise);
 * resolves with its WebSocket URL once it logs "serving" (rejects after `servingTimeoutMs`).
 */
export async function startBundle(
  root: string,
  args: string[],
  env: Record<string, string> = {},
  servingTimeoutMs = 180_000,
): Promise<{ child: ChildProcess; url: string; log: string[] }> {
  const child = spawn(join(root, "bin", "tinyllamad"), ["serve", ...args], {
    cwd: dirname(root),
    env: { PATH: process.env.PATH, HOME: dirname(root), QEMU_CPU: "cortex-a72", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const log: string[] = [];
  child.stderr?.on("data", (chunk: Buffer) => log.push(chunk.toString()));
  const serving = new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (text) => {
      log.push(text);
      try {
        const line = JSON.parse(text) as { msg?: string; websocket?: string };
        if (line.msg === "serving") resolve(String(line.websocket));
      } catch {
        // not a JSON log line; kept in `log` for the failure message
      }
    });
    child.once("exit", (code) => reject(new Error(`the bundle's daemon exited (${code}):\n${log.join("\n")}`)));
    setTimeout(
      () => reject(new Error(`the bundle's daemon did not serve in ${servingTimeoutMs / 1000} s:\n${log.join("\n")}`)),
      servingTimeoutMs,
    ).unref();
  });
  return { child, url: await serving, log };
}
