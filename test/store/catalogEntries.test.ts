/**
 * The built-in catalog stays verified: the default model, and every model a board may pick as its
 * default, carries an exact size, a sha256 with its confidence and a URL pinned to a revision — so a
 * first start can never silently regress to an unverified download. The base model stays unverified.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { armDotProductPreference, generalPreference } from "../../hal/plan/chooseDefaultModel.js";
import {
  CatalogError,
  loadModelCatalog,
  parseModelCatalog,
  requireCatalogEntry,
} from "../../models/catalog/modelCatalog.js";

const catalog = loadModelCatalog();
const revision = "52e7645ba7c309695bec7ac98f4f005b139cf465";

describe("the built-in catalog", () => {
  const defaults = new Set<string>([...armDotProductPreference, ...generalPreference]);
  const boardDefaults = catalog.models.filter(
    (entry) => entry.chatTemplate !== null && entry.format === "gguf" && defaults.has(entry.quantization),
  );

  it("the default model's entry is complete: exact size, sha256 and its confidence, a pinned URL", () => {
    const entry = requireCatalogEntry(catalog, catalog.defaultModel);
    assert.equal(entry.name, "tinyllama-1.1b-chat:q4_k_m");
    assert.equal(entry.sizeBytes, 668788096);
    assert.equal(entry.sha256, "9fecc3b3cd76bba89d504f29b616eedf7da85b96540e490ca5824d3f7d2776a0");
    assert.equal(entry.sha256Confidence, "high");
  });

  it("every model a board may choose as its default is complete too", () => {
    assert.deepEqual(boardDefaults.map((entry) => entry.quantization).sort(), [...defaults].sort());
    for (const entry of boardDefaults) {
      assert.ok(entry.sizeBytes !== null && entry.sizeBytes > 0, `${entry.name}: exact size`);
      assert.equal(entry.approximateSizeBytes, entry.sizeBytes, `${entry.name}: estimates use the exact size`);
      assert.match(entry.sha256 ?? "", /^[0-9a-f]{64}$/, `${entry.name}: sha256`);
      assert.ok(entry.sha256Confidence === "high" || entry.sha256Confidence === "medium", `${entry.name}`);
      assert.ok(entry.urls.length > 0, `${entry.name}: a URL`);
    }
  });

  it("every digest states its confidence, and TheBloke's chat URLs are pinned to the revision, never main", () => {
    for (const entry of catalog.models) {
      if (entry.sha256 !== null) assert.ok(entry.sha256Confidence !== undefined, `${entry.name}: confidence`);
      for (const url of entry.urls.filter((u) => u.includes("TinyLlama-1.1B-Chat-v1.0-GGUF")))
        assert.equal(
          url,
          `https://huggingface.co/TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF/resolve/${revision}/${entry.fileName}`,
        );
    }
    assert.equal(catalog.huggingFaceRevisions?.["TheBloke/TinyLlama-1.1B-Chat-v1.0-GGUF"], revision);
  });

  it("medium-confidence digests are marked so; the base model has no digest", () => {
    const medium = catalog.models.filter((entry) => entry.sha256Confidence === "medium").map((entry) => entry.name);
    assert.deepEqual(medium.sort(), [
      "tinyllama-1.1b-chat:q3_k_m",
      "tinyllama-1.1b-chat:q5_k_m",
      "tinyllama-1.1b-chat:q6_k",
    ]);
    assert.equal(requireCatalogEntry(catalog, "tinyllama-1.1b-base:q4_k_m").sha256, null);
  });

  it("a confidence that is not high or medium, or one without a digest, is refused", () => {
    const entry = requireCatalogEntry(catalog, catalog.defaultModel);
    const withEntry = (changes: object) => ({
      version: 1,
      defaultModel: entry.name,
      models: [{ ...entry, ...changes }],
    });
    assert.throws(
      () => parseModelCatalog(withEntry({ sha256Confidence: "low" })),
      (error: CatalogError) => error.code === "E_CATALOG_INVALID" && /sha256Confidence/.test(error.message),
    );
    assert.throws(() => parseModelCatalog(withEntry({ sha256: null, sha256Confidence: "high" })), CatalogError);
  });
});
