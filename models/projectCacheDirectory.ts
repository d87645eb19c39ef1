/**
 * Where generated artefacts (extracted vocabulary, test models, benchmark builds) are cached:
 * `$TINYLLAMAD_CACHE_DIR`, else `.cache/` at the root of the tinyllamad package.
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export function projectRoot(): string {
  let directory = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(directory, "package.json"))) {
    const parent = dirname(directory);
    if (parent === directory) throw new Error("cannot find the tinyllamad package root");
    directory = parent;
  }
  return directory;
}

export function projectCacheDirectory(): string {
  const fromEnv = process.env.TINYLLAMAD_CACHE_DIR;
  return fromEnv ? resolve(fromEnv) : join(projectRoot(), ".cache");
}
