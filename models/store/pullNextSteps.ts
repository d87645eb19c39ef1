/**
 * What to do when a model cannot be downloaded from where the board is: the three ways to get the file
 * onto it anyway, with the exact names and path, using only flags and commands that exist.
 */
import type { CatalogEntry } from "../catalog/modelCatalog.js";
import type { ModelStore } from "./ModelStore.js";

export function pullNextSteps(entry: CatalogEntry, store: ModelStore): string {
  const unverified = entry.sha256 === null ? " --allow-unverified" : "";
  const storeFlag = ` --store ${store.directory}`;
  return [
    "next steps:",
    `  - from a site mirror that has the file: tinyllamad models pull ${entry.name} --mirror http://MIRROR/PATH${storeFlag}${unverified}`,
    `    (fetches http://MIRROR/PATH/${entry.fileName}; for the daemon's first-start pull set model.mirrorUrl)`,
    `  - from a copy on this board (USB stick, scp): tinyllamad models pull ${entry.name} --from /path/to/${entry.fileName}${storeFlag}${unverified}`,
    `    (checks its size, ${entry.sha256 === null ? "" : "sha256, "}and GGUF shape before it goes into the store)`,
    `  - or copy the file to exactly ${store.completePath(entry.fileName)}`,
    `    and check it with: tinyllamad models verify ${entry.name}${storeFlag}`,
  ].join("\n");
}
