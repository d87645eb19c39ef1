/**
 * A model catalog (for `--model.catalog`) whose default model is the tiny test model with its real size
 * and sha256, under a chosen file name: a daemon's first-start pull of it is verified like a real one.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ModelCatalog } from "../../models/catalog/modelCatalog.js";
import { testModel } from "../store/testCatalogEntry.js";

export function writeTestModelCatalog(directory: string, fileName: string): string {
  const entry = testModel().entry([], { fileName });
  const catalog: ModelCatalog = { version: 1, defaultModel: entry.name, models: [entry] };
  mkdirSync(directory, { recursive: true });
  const path = join(directory, "test-catalog.json");
  writeFileSync(path, JSON.stringify(catalog, null, 2));
  return path;
}
