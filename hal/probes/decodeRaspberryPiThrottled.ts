/**
 * The Raspberry Pi firmware's throttling bit field (`/sys/devices/platform/soc/soc:firmware/get_throttled`,
 * hex without `0x`, same as `vcgencmd get_throttled`): bit 0 under-voltage, 1 ARM frequency capped,
 * 2 throttled, 3 soft temperature limit; bits 16–19 are the same conditions "has occurred since boot".
 */

export interface ThrottleFlags {
  underVoltage: boolean;
  frequencyCapped: boolean;
  throttled: boolean;
  softTemperatureLimit: boolean;
}

export interface RaspberryPiThrottling {
  raw: number;
  now: ThrottleFlags;
  sinceBoot: ThrottleFlags;
}

export function decodeRaspberryPiThrottled(text: string): RaspberryPiThrottling | null {
  const trimmed = text.trim().replace(/^throttled=/, "");
  if (!/^(0x)?[0-9a-f]+$/i.test(trimmed)) return null;
  const raw = Number.parseInt(trimmed.replace(/^0x/i, ""), 16);
  return { raw, now: flagsAt(raw, 0), sinceBoot: flagsAt(raw, 16) };
}

/** "under-voltage now, throttled since boot" style summary; "none" when nothing is set. */
export function describeThrottling(throttling: RaspberryPiThrottling): string {
  const parts: string[] = [];
  const names: Array<[keyof ThrottleFlags, string]> = [
    ["underVoltage", "under-voltage"],
    ["frequencyCapped", "frequency capped"],
    ["throttled", "throttled"],
    ["softTemperatureLimit", "soft temperature limit"],
  ];
  for (const [key, name] of names) {
    if (throttling.now[key]) parts.push(`${name} now`);
    else if (throttling.sinceBoot[key]) parts.push(`${name} since boot`);
  }
  return parts.length === 0 ? "none" : parts.join(", ");
}

function flagsAt(raw: number, shift: number): ThrottleFlags {
  const bit = (n: number) => ((raw >>> (shift + n)) & 1) === 1;
  return { underVoltage: bit(0), frequencyCapped: bit(1), throttled: bit(2), softTemperatureLimit: bit(3) };
}
