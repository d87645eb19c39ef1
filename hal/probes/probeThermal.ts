/**
 * Temperatures: every `/sys/class/thermal/thermal_zone*` (`type`, `temp` in millidegrees → °C), each
 * zone classified (cpu / gpu / npu / soc / other; RK3588 spells them `bigcore0-thermal` or
 * `bigcore0_thermal`, mainline calls zone 0 `package-thermal`), the hottest CPU-ish zone, and the
 * Raspberry Pi firmware's throttling flags where exposed.
 */
import { decodeRaspberryPiThrottled, type RaspberryPiThrottling } from "./decodeRaspberryPiThrottled.js";
import { listProbeDirectory, readProbeFile } from "./probeFileSystem.js";

export type ThermalZoneKind = "cpu" | "gpu" | "npu" | "soc" | "other";

export interface ThermalZone {
  /** sysfs directory name, e.g. "thermal_zone0". */
  zone: string;
  type: string;
  kind: ThermalZoneKind;
  celsius: number | null;
}

export interface ThermalReport {
  zones: ThermalZone[];
  /** The hottest zone of kind cpu or soc; null when none is readable. */
  cpuCelsius: number | null;
  /** Raspberry Pi firmware throttling, null where the file is not exposed. */
  raspberryPiThrottling: RaspberryPiThrottling | null;
  reasons: string[];
}

export const raspberryPiThrottledPath = "sys/devices/platform/soc/soc:firmware/get_throttled";

export async function probeThermal(root = "/"): Promise<ThermalReport> {
  const reasons: string[] = [];
  const zones: ThermalZone[] = [];
  const names = (await listProbeDirectory(root, "sys/class/thermal")).filter((name) => /^thermal_zone\d+$/.test(name));
  names.sort((a, b) => Number(a.slice(12)) - Number(b.slice(12)));
  if (names.length === 0) reasons.push("no thermal zones in /sys/class/thermal");
  for (const zone of names) {
    const typeRead = await readProbeFile(root, `sys/class/thermal/${zone}/type`);
    const tempRead = await readProbeFile(root, `sys/class/thermal/${zone}/temp`);
    const type = typeRead.ok ? typeRead.text.trim() : "unknown";
    const millidegrees = tempRead.ok ? Number.parseInt(tempRead.text.trim(), 10) : Number.NaN;
    if (!tempRead.ok) reasons.push(`${zone} (${type}) temperature unknown (${tempRead.reason})`);
    zones.push({
      zone,
      type,
      kind: classifyThermalZone(type),
      celsius: Number.isFinite(millidegrees) ? millidegrees / 1000 : null,
    });
  }
  const cpuTemperatures = zones
    .filter((zone) => zone.kind === "cpu" || zone.kind === "soc")
    .map((zone) => zone.celsius)
    .filter((celsius): celsius is number => celsius !== null);

  let raspberryPiThrottling: RaspberryPiThrottling | null = null;
  const throttledRead = await readProbeFile(root, raspberryPiThrottledPath);
  if (throttledRead.ok) {
    raspberryPiThrottling = decodeRaspberryPiThrottled(throttledRead.text);
    if (raspberryPiThrottling === null)
      reasons.push(`cannot decode get_throttled value "${throttledRead.text.trim()}"`);
  }
  return {
    zones,
    cpuCelsius: cpuTemperatures.length > 0 ? Math.max(...cpuTemperatures) : null,
    raspberryPiThrottling,
    reasons,
  };
}

export function classifyThermalZone(type: string): ThermalZoneKind {
  const name = type.toLowerCase();
  if (/npu/.test(name)) return "npu";
  if (/gpu/.test(name)) return "gpu";
  if (/cpu|core|x86_pkg_temp|coretemp|k10temp/.test(name)) return "cpu";
  if (/soc|package|center/.test(name)) return "soc";
  return "other";
}
