import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";

/** The installed node-llama-cpp's version, part of the calibration cache key ("unknown" if unreadable). */
export function nodeLlamaCppVersion(): string {
  try {
    const entry = createRequire(import.meta.url).resolve("node-llama-cpp");
    const manifest = join(
      entry.slice(0, entry.lastIndexOf("node-llama-cpp") + "node-llama-cpp".length),
      "package.json",
    );
    return (JSON.parse(readFileSync(manifest, "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}
