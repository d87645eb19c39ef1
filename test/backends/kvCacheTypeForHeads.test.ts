import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { kvCacheTypeForHeads } from "../../hal/backends/llamaCpp/kvCacheTypeForHeads.js";

describe("kvCacheTypeForHeads", () => {
  it("keeps q8_0 for TinyLlama's 64-wide heads (2048 / 32)", () => {
    assert.equal(kvCacheTypeForHeads("q8_0", { embedding_length: 2048, attention: { head_count: 32 } }), "q8_0");
  });
  it("falls back to f16 for heads q8_0 blocks do not divide (the 16-wide test models, 80-wide heads)", () => {
    assert.equal(kvCacheTypeForHeads("q8_0", { embedding_length: 64, attention: { head_count: 4 } }), "f16");
    assert.equal(
      kvCacheTypeForHeads("q8_0", { embedding_length: 2560, attention: { head_count: 32, key_length: 80 } }),
      "f16",
    );
  });
  it("falls back to f16 when the head width cannot be read, and leaves f16 and the default alone", () => {
    assert.equal(kvCacheTypeForHeads("q8_0", {}), "f16");
    assert.equal(kvCacheTypeForHeads("f16", {}), "f16");
    assert.equal(kvCacheTypeForHeads(undefined, {}), undefined);
  });
});
