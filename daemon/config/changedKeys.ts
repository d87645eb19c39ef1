import type { TinyllamadConfig } from "./configSchema.js";

/** The settings (dotted keys) whose values differ between two configurations. */
export function changedKeys(before: TinyllamadConfig, after: TinyllamadConfig): string[] {
  const keys: string[] = [];
  const walk = (a: unknown, b: unknown, path: string) => {
    // A list (http.allowedHosts) is one setting: compared whole, not item by item.
    if (Array.isArray(a) || Array.isArray(b)) {
      if (JSON.stringify(a) !== JSON.stringify(b)) keys.push(path);
    } else if (typeof a === "object" && a !== null && typeof b === "object" && b !== null) {
      for (const key of new Set([...Object.keys(a), ...Object.keys(b)]))
        walk((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], path ? `${path}.${key}` : key);
    } else if (a !== b) keys.push(path);
  };
  walk(before, after, "");
  return keys;
}
