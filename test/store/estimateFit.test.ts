import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  loadModelCatalog,
  parseModelCatalog,
  requireCatalogEntry,
  resolveDownloadUrls,
} from "../../models/catalog/modelCatalog.js";
import { assertCatalogModelFits, checkCatalogModelFit, estimateMemory } from "../../models/store/estimateFit.js";
import type { ModelStoreError } from "../../models/store/ModelStoreError.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** Raspberry Pi 4, 1 GB, Raspberry Pi OS Lite with gpu_mem=16: ≈850 MiB available after boot. */
const raspberryPi4With1GB = { totalBytes: 1 * GiB, availableBytes: 850 * MiB };
/** Raspberry Pi 4, 4 GB: ≈3.6 GiB available after boot. */
const raspberryPi4With4GB = { totalBytes: 4 * GiB, availableBytes: 3.6 * GiB };

describe("catalog", () => {
  const catalog = loadModelCatalog();

  it("loads and validates the built-in catalog, with Q4_K_M as the default", () => {
    assert.equal(catalog.defaultModel, "tinyllama-1.1b-chat:q4_k_m");
    const names = catalog.models.map((m) => m.name);
    for (const quant of ["q4_k_m", "q5_k_m", "q8_0", "q4_0"]) assert.ok(names.includes(`tinyllama-1.1b-chat:${quant}`));
    assert.ok(catalog.models.some((m) => m.format === "rkllm" && m.backends.includes("npu")));
    assert.ok(catalog.models.some((m) => m.name.startsWith("tinyllama-1.1b-base")));
    assert.equal(
      requireCatalogEntry(catalog, "tinyllama-1.1b-chat:q4_k_m").fileName,
      "tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf",
    );
  });

  it("rejects invalid entries, naming each problem", () => {
    const broken = structuredClone(catalog) as unknown as { models: Record<string, unknown>[] };
    (broken.models[0] as Record<string, unknown>).sha256 = "not-a-hash";
    (broken.models[1] as Record<string, unknown>).chatTemplate = "nope";
    assert.throws(
      () => parseModelCatalog(broken),
      (error: Error & { code: string }) => {
        assert.equal(error.code, "E_CATALOG_INVALID");
        assert.match(error.message, /sha256 must be 64 lower-case hex/);
        assert.match(error.message, /chatTemplate must be null or one of tinyllama-chat/);
        return true;
      },
    );
  });

  it("a mirror replaces the upstream URL with <mirror>/<file name>", () => {
    const entry = requireCatalogEntry(catalog, "tinyllama-1.1b-chat:q4_0");
    assert.deepEqual(resolveDownloadUrls(entry, { mirrorUrl: "http://mirror.site.lan/models/" }), [
      "http://mirror.site.lan/models/tinyllama-1.1b-chat-v1.0.Q4_0.gguf",
    ]);
    assert.deepEqual(resolveDownloadUrls(entry), entry.urls);
    assert.match(resolveDownloadUrls(entry, { from: "/tmp/x.gguf" })[0] ?? "", /^file:\/\/\/tmp\/x\.gguf$/);
  });
});

describe("estimateFit", () => {
  const catalog = loadModelCatalog();

  it("counts TinyLlama's KV cache exactly: 22 layers × 2 × 4 KV heads × 64 × 2 bytes × context × sequences", () => {
    const shape = requireCatalogEntry(catalog, "tinyllama-1.1b-chat:q4_k_m").shape;
    assert.equal(estimateMemory(0, shape, { contextSize: 2048 }).kvCacheBytes, 22 * 2 * 4 * 64 * 2 * 2048);
    assert.equal(
      estimateMemory(0, shape, { contextSize: 2048, sequences: 4 }).kvCacheBytes,
      22 * 2 * 4 * 64 * 2 * 2048 * 4,
    );
    const estimate = estimateMemory(600e6, shape, { contextSize: 2048 });
    assert.equal(
      estimate.totalBytes,
      estimate.modelBytes + estimate.kvCacheBytes + estimate.computeBufferBytes + estimate.runtimeOverheadBytes,
    );
    assert.ok(estimate.computeBufferBytes > 60 * MiB && estimate.computeBufferBytes < 80 * MiB);
  });

  it("on a 1 GB Raspberry Pi 4 refuses Q8_0 and names a smaller model that fits", () => {
    const q8 = requireCatalogEntry(catalog, "tinyllama-1.1b-chat:q8_0");
    const report = checkCatalogModelFit(q8, catalog, raspberryPi4With1GB, { contextSize: 2048 });
    assert.equal(report.fits, false);
    assert.ok(report.suggestions.length > 0);
    for (const name of report.suggestions) assert.match(name, /^tinyllama-1\.1b-chat:(q4_k_m|q4_0|q3_k_m|q2_k)$/);
    assert.match(report.message, /does not fit .* Use a smaller model: tinyllama-1\.1b-chat:q4_k_m/);
    assert.match(report.message, /the OS and other programs use 0\.18 GB/);
    assert.throws(
      () => assertCatalogModelFits(q8, catalog, raspberryPi4With1GB, { contextSize: 2048 }),
      (error: ModelStoreError) => error.code === "E_MODEL_TOO_LARGE" && /q4_k_m|q4_0/.test(error.message),
    );
    for (const name of report.suggestions) {
      assert.equal(
        checkCatalogModelFit(requireCatalogEntry(catalog, name), catalog, raspberryPi4With1GB, { contextSize: 2048 })
          .fits,
        true,
      );
    }
  });

  it("on a 4 GB Raspberry Pi 4 accepts Q8_0", () => {
    const q8 = requireCatalogEntry(catalog, "tinyllama-1.1b-chat:q8_0");
    const report = assertCatalogModelFits(q8, catalog, raspberryPi4With4GB, { contextSize: 2048, sequences: 2 });
    assert.equal(report.fits, true);
    assert.deepEqual(report.suggestions, []);
  });

  it("more sequences or a longer context can tip a model over", () => {
    const q4 = requireCatalogEntry(catalog, "tinyllama-1.1b-chat:q4_k_m");
    assert.equal(checkCatalogModelFit(q4, catalog, raspberryPi4With1GB, { contextSize: 2048 }).fits, true);
    assert.equal(
      checkCatalogModelFit(q4, catalog, raspberryPi4With1GB, { contextSize: 2048, sequences: 8 }).fits,
      false,
    );
  });
});
