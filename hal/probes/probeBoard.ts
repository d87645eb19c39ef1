/**
 * Which board this is, from the device tree (`/proc/device-tree/model` and `compatible`, falling back to
 * `/sys/firmware/devicetree/base`): Raspberry Pi 4 (`brcm,bcm2711`), Pi 5 (`brcm,bcm2712`), Orange Pi 5 /
 * 5B / 5 Plus (`rockchip,rk3588s` / `rockchip,rk3588`, mainline and vendor kernels), other RK3588 boards,
 * else a generic machine named after the architecture.
 */
import { type ProbeRead, readProbeFile, splitNulSeparated } from "./probeFileSystem.js";

export type BoardId = "rpi4" | "rpi5" | "opi5" | "rk3588" | `generic-${string}`;

export interface BoardReport {
  id: BoardId;
  /** The device-tree model string, e.g. "Raspberry Pi 4 Model B Rev 1.5"; null without a device tree. */
  model: string | null;
  /** e.g. "BCM2711", "BCM2712", "RK3588S", "RK3588"; null when not recognised. */
  soc: string | null;
  compatible: string[];
  /** A short human name for reasons: "Raspberry Pi 4", "Orange Pi 5 (RK3588S)", "generic x64". */
  displayName: string;
  reasons: string[];
}

const deviceTreeDirectories = ["proc/device-tree", "sys/firmware/devicetree/base"];

export async function probeBoard(root = "/", arch: string = process.arch): Promise<BoardReport> {
  const reasons: string[] = [];
  const modelRead = await readFirst(
    root,
    deviceTreeDirectories.map((directory) => `${directory}/model`),
  );
  const compatibleRead = await readFirst(
    root,
    deviceTreeDirectories.map((directory) => `${directory}/compatible`),
  );
  const model = modelRead.ok ? (splitNulSeparated(modelRead.text)[0] ?? null) : null;
  const compatible = compatibleRead.ok ? splitNulSeparated(compatibleRead.text) : [];
  if (!modelRead.ok) reasons.push(`device-tree model unknown (${modelRead.reason})`);
  if (!compatibleRead.ok) reasons.push(`device-tree compatible unknown (${compatibleRead.reason})`);
  return { ...identifyBoard(model, compatible, arch), model, compatible, reasons };
}

/** Pure: the board id, SoC and display name from the device-tree strings. */
export function identifyBoard(
  model: string | null,
  compatible: string[],
  arch: string,
): Pick<BoardReport, "id" | "soc" | "displayName"> {
  if (compatible.includes("brcm,bcm2711")) return { id: "rpi4", soc: "BCM2711", displayName: "Raspberry Pi 4" };
  if (compatible.includes("brcm,bcm2712")) return { id: "rpi5", soc: "BCM2712", displayName: "Raspberry Pi 5" };
  if (compatible.some((entry) => entry.startsWith("rockchip,rk3588"))) {
    // Vendor kernels list `rockchip,rk3588` even on the RK3588S; their board entry (`rockchip,rk3588s-orangepi-5`) still says S.
    const soc = compatible.some((entry) => entry.startsWith("rockchip,rk3588s")) ? "RK3588S" : "RK3588";
    const orangePi = compatible.some((entry) => /orangepi-5/.test(entry)) || /orange ?pi 5|opi 5/i.test(model ?? "");
    if (orangePi) return { id: "opi5", soc, displayName: `${orangePiName(model)} (${soc})` };
    return { id: "rk3588", soc, displayName: `${model ?? "RK3588 board"} (${soc})` };
  }
  return { id: `generic-${arch}`, soc: null, displayName: model ? `${model} (${arch})` : `generic ${arch}` };
}

function orangePiName(model: string | null): string {
  if (model && /plus/i.test(model)) return "Orange Pi 5 Plus";
  if (model && /5B\b/.test(model)) return "Orange Pi 5B";
  return "Orange Pi 5";
}

async function readFirst(root: string, paths: string[]): Promise<ProbeRead> {
  let first: ProbeRead | undefined;
  for (const path of paths) {
    const read = await readProbeFile(root, path);
    if (read.ok) return read;
    first ??= read;
  }
  return first ?? { ok: false, reason: "no path given" };
}
