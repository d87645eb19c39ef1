import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { modelShapes, parameterCount } from "../../devtools/testModel/modelShapes.js";
import { inspectModel } from "../../models/store/inspectModel.js";
import type { ModelStoreError } from "../../models/store/ModelStoreError.js";
import { testModelPath } from "../support/testModels.js";

describe("inspectModel", () => {
  it("reads the test model's GGUF header: llama, 32000 vocabulary, Q8_0, context 2048, chat template", async () => {
    const inspection = await inspectModel(testModelPath());
    assert.equal(inspection.format, "gguf");
    assert.equal(inspection.architecture, "llama");
    assert.equal(inspection.vocabularySize, 32000);
    assert.equal(inspection.quantization, "Q8_0");
    assert.equal(inspection.contextLength, 2048);
    assert.equal(inspection.hasChatTemplate, true);
    const tiny = modelShapes.tiny;
    assert.ok(tiny);
    assert.equal(inspection.parameterCount, parameterCount(tiny, 32000));
    assert.deepEqual(inspection.shape, {
      layers: 2,
      embeddingLength: 128,
      attentionHeads: 8,
      kvHeads: 2,
      vocabularySize: 32000,
    });
  });

  it("reports a .rkllm file by size, and refuses a file that is not GGUF", async () => {
    const directory = await mkdtemp(join(tmpdir(), "tinyllamad-inspect-"));
    try {
      await writeFile(join(directory, "x.rkllm"), Buffer.alloc(1000, 7));
      const rkllm = await inspectModel(join(directory, "x.rkllm"));
      assert.equal(rkllm.format, "rkllm");
      assert.equal(rkllm.sizeBytes, 1000);
      await writeFile(join(directory, "x.gguf"), "not a model");
      await assert.rejects(
        inspectModel(join(directory, "x.gguf")),
        (error: ModelStoreError) => error.code === "E_MODEL_UNREADABLE",
      );
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  });
});
