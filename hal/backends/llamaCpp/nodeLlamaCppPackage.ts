/**
 * Where the installed node-llama-cpp package keeps what tinyllamad builds from: its directory and
 * the llama.cpp source bundle (`llama/gitRelease.bundle`, the exact llama.cpp its binaries are built from).
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** Directory of the installed node-llama-cpp package. */
export function nodeLlamaCppDirectory(): string {
  const entry = createRequire(import.meta.url).resolve("node-llama-cpp");
  let directory = dirname(entry);
  while (!existsSync(join(directory, "llama", "gitRelease.bundle"))) {
    const parent = dirname(directory);
    if (parent === directory) throw new Error(`cannot find llama/gitRelease.bundle above ${entry}`);
    directory = parent;
  }
  return directory;
}

/** Path of the llama.cpp git bundle inside node-llama-cpp's package. */
export function llamaCppSourceBundle(): string {
  return join(nodeLlamaCppDirectory(), "llama", "gitRelease.bundle");
}

/** The llama.cpp release the bundle holds, e.g. "v0.5.0" (from llama/llama.cpp.info.json). */
export function llamaCppRelease(): string {
  const info = JSON.parse(readFileSync(join(nodeLlamaCppDirectory(), "llama", "llama.cpp.info.json"), "utf8")) as {
    tag?: unknown;
  };
  return typeof info.tag === "string" ? info.tag : "unknown";
}

/**
 * The installed node-llama-cpp's version, from its package.json (found by walking up from its entry
 * point: the package does not export package.json, and release bundles drop gitRelease.bundle).
 */
export function installedNodeLlamaCppVersion(): string {
  const entry = createRequire(import.meta.url).resolve("node-llama-cpp");
  for (let directory = dirname(entry); ; directory = dirname(directory)) {
    const manifest = join(directory, "package.json");
    if (existsSync(manifest)) {
      const { name, version } = JSON.parse(readFileSync(manifest, "utf8")) as { name?: unknown; version?: unknown };
      if (name === "node-llama-cpp" && typeof version === "string") return version;
    }
    if (dirname(directory) === directory) throw new Error(`cannot find node-llama-cpp's package.json above ${entry}`);
  }
}
