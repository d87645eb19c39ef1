/** A catalog entry for the tiny test model (testModelPath()) with its real size and sha256. */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import type { CatalogEntry } from "../../models/catalog/modelCatalog.js";
import { testModelPath } from "../support/testModels.js";

export interface TestModel {
  path: string;
  body: Buffer;
  sha256: string;
  entry: (urls: string[], overrides?: Partial<CatalogEntry>) => CatalogEntry;
}

export function testModel(): TestModel {
  const path = testModelPath();
  const body = readFileSync(path);
  const sha256 = createHash("sha256").update(body).digest("hex");
  return {
    path,
    body,
    sha256,
    entry: (urls, overrides = {}) => ({
      name: "tinyllamad-test:tiny",
      description: "the random-weight tiny test model",
      format: "gguf",
      fileName: "tinyllamad-test-tiny.gguf",
      urls,
      sizeBytes: body.length,
      approximateSizeBytes: body.length,
      sha256,
      quantization: "Q8_0",
      contextLength: 2048,
      chatTemplate: "tinyllama-chat",
      shape: { layers: 2, embeddingLength: 128, attentionHeads: 8, kvHeads: 2, vocabularySize: 32000 },
      backends: ["cpu"],
      ...overrides,
    }),
  };
}
