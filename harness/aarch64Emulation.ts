/**
 * Makes this x86-64 machine run aarch64 ELF programs directly, through qemu-user and binfmt_misc, so that a
 * linux-arm64 bundle can be tested as a board would run it. node-llama-cpp checks its binary by spawning a
 * child with its own executable, so `qemu-aarch64-static node …` is not enough: the kernel must know the format.
 *
 * `prepareAarch64Emulation()` returns undefined when aarch64 programs can run, else the precise reason they
 * cannot (for a test's skip message). Registering needs root; an existing registration is reused.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";

const binfmtDirectory = "/proc/sys/fs/binfmt_misc";
const registration = "/usr/lib/binfmt.d/qemu-aarch64.conf";
const arm64Libc = "/usr/lib/aarch64-linux-gnu/libc.so.6";
const arm64Libstdcxx = "/usr/lib/aarch64-linux-gnu/libstdc++.so.6";

function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

/** The interpreter a binfmt.d line names (field 7 of `:name:type:offset:magic:mask:interpreter:flags`). */
function interpreterOf(line: string): string {
  return line.trim().split(":")[6] ?? "";
}

function registered(): boolean {
  const entry = `${binfmtDirectory}/qemu-aarch64`;
  return existsSync(entry) && readFileSync(entry, "utf8").startsWith("enabled");
}

export function prepareAarch64Emulation(): string | undefined {
  if (process.platform !== "linux") return `aarch64 emulation needs Linux binfmt_misc (this is ${process.platform})`;
  if (process.arch === "arm64") return undefined;
  if (!existsSync(registration)) return `${registration} is missing: apt-get install qemu-user-static binfmt-support`;
  const interpreter = interpreterOf(readFileSync(registration, "utf8"));
  if (!existsSync(interpreter))
    return `the qemu interpreter ${interpreter} is missing: apt-get install qemu-user-static`;
  for (const library of [arm64Libc, arm64Libstdcxx])
    if (!existsSync(library))
      return `${library} is missing: dpkg --add-architecture arm64 && apt-get update && apt-get install libc6:arm64 libstdc++6:arm64`;
  if (!existsSync(`${binfmtDirectory}/register`)) {
    if (!isRoot()) return `binfmt_misc is not mounted at ${binfmtDirectory} and mounting it needs root`;
    try {
      execFileSync("mount", ["-t", "binfmt_misc", "binfmt_misc", binfmtDirectory], { stdio: "pipe" });
    } catch (error) {
      return `cannot mount binfmt_misc at ${binfmtDirectory} (a container without CAP_SYS_ADMIN?): ${(error as Error).message}`;
    }
  }
  if (!registered()) {
    if (!isRoot()) return `qemu-aarch64 is not registered in ${binfmtDirectory} and registering it needs root`;
    try {
      writeFileSync(`${binfmtDirectory}/register`, readFileSync(registration));
    } catch (error) {
      return `cannot register ${registration} into ${binfmtDirectory}/register: ${(error as Error).message}`;
    }
    if (!registered()) return `registered ${registration}, but ${binfmtDirectory}/qemu-aarch64 is not enabled`;
  }
  return undefined;
}
