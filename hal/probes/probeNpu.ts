/**
 * The Rockchip NPU and the RKLLM runtime: the NPU counts as present when the RKNPU driver shows itself
 * (`/dev/rknpu`, `/sys/kernel/debug/rknpu/version`, `/proc/rknpu/version`, or a device-tree `npu@…` node
 * with compatible `rockchip,…-rknpu`); its version comes from the version file ("RKNPU driver: v0.9.8",
 * debugfs is root-only, so it is often unknown to the daemon's user). `librkllmrt.so` is looked for in
 * /usr/lib, /usr/lib/aarch64-linux-gnu, /usr/local/lib and any extra places given (directories or files).
 * Mainline's `rocket` driver (`rockchip,rk3588-rknn-core`) is a different stack: noted, not counted.
 */
import { basename } from "node:path";
import {
  displayPath,
  listProbeDirectory,
  probePathExists,
  readProbeFile,
  splitNulSeparated,
} from "./probeFileSystem.js";

export interface NpuReport {
  present: boolean;
  /** e.g. "0.9.8"; null when unknown. */
  driverVersion: string | null;
  /** Absolute path (as on the probed system) of librkllmrt.so, or null. */
  runtimeLibrary: string | null;
  /** What showed the NPU, e.g. ["/dev/rknpu", "/sys/kernel/debug/rknpu/version"]. */
  evidence: string[];
  reasons: string[];
}

export interface NpuProbeOptions {
  /** More places to look for librkllmrt.so: directories, or full paths to the library (e.g. config npu.libraryPath). */
  extraLibraryPaths?: string[];
}

export const runtimeLibraryName = "librkllmrt.so";
export const defaultRuntimeLibraryDirectories = ["/usr/lib", "/usr/lib/aarch64-linux-gnu", "/usr/local/lib"];
const versionFiles = ["sys/kernel/debug/rknpu/version", "proc/rknpu/version"];

export async function probeNpu(root = "/", options: NpuProbeOptions = {}): Promise<NpuReport> {
  const reasons: string[] = [];
  const evidence: string[] = [];
  if (await probePathExists(root, "dev/rknpu")) evidence.push("/dev/rknpu");

  let driverVersion: string | null = null;
  const versionFailures: string[] = [];
  for (const path of versionFiles) {
    const read = await readProbeFile(root, path);
    if (!read.ok) {
      versionFailures.push(read.reason);
      continue;
    }
    evidence.push(displayPath(path));
    driverVersion = parseRknpuDriverVersion(read.text);
    if (driverVersion === null) reasons.push(`cannot read a version in ${displayPath(path)}: "${read.text.trim()}"`);
    break;
  }

  for (const node of (await listProbeDirectory(root, "proc/device-tree")).filter((name) => /^npu@/.test(name))) {
    const compatible = await readProbeFile(root, `proc/device-tree/${node}/compatible`);
    const entries = compatible.ok ? splitNulSeparated(compatible.text) : [];
    if (entries.some((entry) => /-rknpu$/.test(entry))) evidence.push(`device-tree ${node} (${entries.join(", ")})`);
    else if (entries.some((entry) => /rknn-core$/.test(entry)))
      reasons.push(
        `device-tree ${node} is for mainline's rocket NPU driver (${entries[0]}), not RKNPU: RKLLM needs the vendor kernel`,
      );
  }

  const present = evidence.length > 0;
  if (!present) reasons.push("no Rockchip NPU: no /dev/rknpu, no RKNPU version file, no rknpu device-tree node");
  else if (driverVersion === null && versionFailures.length === versionFiles.length)
    reasons.push(`RKNPU driver version unknown (${versionFailures.join("; ")})`);

  const runtimeLibrary = await findRuntimeLibrary(root, options.extraLibraryPaths ?? []);
  if (runtimeLibrary === null) {
    const places = [...defaultRuntimeLibraryDirectories, ...(options.extraLibraryPaths ?? [])];
    reasons.push(`${runtimeLibraryName} not found in ${places.join(", ")}`);
  }
  return { present, driverVersion, runtimeLibrary, evidence, reasons };
}

/** "RKNPU driver: v0.9.8" → "0.9.8". */
export function parseRknpuDriverVersion(text: string): string | null {
  return /v?(\d+\.\d+\.\d+)/.exec(text)?.[1] ?? null;
}

async function findRuntimeLibrary(root: string, extraPaths: string[]): Promise<string | null> {
  const candidates: string[] = [];
  for (const path of [...extraPaths, ...defaultRuntimeLibraryDirectories]) {
    const absolute = `/${path.replace(/^\/+/, "")}`;
    if (basename(absolute).startsWith("librkllmrt")) candidates.push(absolute);
    else candidates.push(`${absolute.replace(/\/+$/, "")}/${runtimeLibraryName}`);
  }
  for (const candidate of candidates) if (await probePathExists(root, candidate)) return candidate;
  return null;
}
