/**
 * The test-model generator: deterministic bytes, the real Llama tokenizer, TinyLlama's template and
 * shape, and files that node-llama-cpp loads.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { getLlama, readGgufFileInfo, type Token } from "node-llama-cpp";
import { makeTestModel } from "../../devtools/testModel/makeTestModel.js";
import { parameterCount, tinyllama11bShape, tinyShape } from "../../devtools/testModel/modelShapes.js";
import { toFloat16Bits } from "../../devtools/testModel/randomTensorData.js";
import { tinyLlamaChatTemplate } from "../../models/chatTemplates.js";
import { readGgufHeaderFile } from "../../models/gguf/readGgufHeader.js";

const scratch = mkdtempSync(join(tmpdir(), "tinyllamad-models-"));
after(() => rmSync(scratch, { recursive: true, force: true }));
const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

describe("makeTestModel", () => {
  it("writes the same bytes for the same seed and different bytes for another", () => {
    const a = makeTestModel({ shape: "tiny", quant: "q4_0", seed: 7, out: join(scratch, "a.gguf") }).path;
    const b = makeTestModel({ shape: "tiny", quant: "q4_0", seed: 7, out: join(scratch, "b.gguf") }).path;
    const c = makeTestModel({ shape: "tiny", quant: "q4_0", seed: 8, out: join(scratch, "c.gguf") }).path;
    assert.equal(sha256(a), sha256(b));
    assert.notEqual(sha256(a), sha256(c));
  });

  for (const quant of ["f16", "q8_0", "q4_0"] as const) {
    it(`${quant}: node-llama-cpp loads it, with TinyLlama's architecture metadata and tokenizer`, async () => {
      const path = makeTestModel({
        shape: "tiny",
        quant,
        seed: 1,
        out: join(scratch, `tiny-${quant}.gguf`),
      }).path;
      const info = await readGgufFileInfo(path);
      const llamaMeta = info.architectureMetadata as Record<string, unknown> & {
        attention: Record<string, unknown>;
      };
      assert.equal(info.metadata.general.architecture, "llama");
      assert.equal(llamaMeta.block_count, tinyShape.layers);
      assert.equal(llamaMeta.embedding_length, tinyShape.hidden);
      assert.equal(llamaMeta.feed_forward_length, tinyShape.feedForward);
      assert.equal(llamaMeta.attention.head_count, tinyShape.headCount);
      assert.equal(llamaMeta.attention.head_count_kv, tinyShape.headCountKv);
      assert.equal(llamaMeta.context_length, 2048);
      assert.equal(info.metadata.tokenizer.chat_template, tinyLlamaChatTemplate);

      const llama = await getLlama({ gpu: false, build: "never" });
      try {
        const model = await llama.loadModel({ modelPath: path });
        assert.equal(model.fileInsights.totalLayers, tinyShape.layers + 1);
        assert.equal(model.fileInsights.totalParameters, parameterCount(tinyShape, 32000));
        // The real Llama SentencePiece vocabulary: known ids of well-known words.
        assert.deepEqual(model.tokenize("Hello world"), [15043, 3186]);
        assert.equal(model.tokens.bos, 1);
        assert.equal(model.tokens.eos, 2);
        assert.equal(model.detokenize([15043, 3186] as Token[]), "Hello world");
        // The weights are usable: a greedy step yields a real token, not NaN garbage.
        const context = await model.createContext({ contextSize: 128 });
        const sequence = context.getSequence();
        const out: number[] = [];
        for await (const token of sequence.evaluate([1, 15043] as Token[], { temperature: 0 })) {
          out.push(token);
          if (out.length === 4) break;
        }
        assert.equal(out.length, 4);
        assert.ok(out.every((t) => t >= 0 && t < 32000));
      } finally {
        await llama.dispose();
      }
    });
  }

  it("copies the tokenizer metadata with its exact GGUF types", () => {
    const path = makeTestModel({
      shape: "tiny",
      quant: "q8_0",
      seed: 2,
      out: join(scratch, "types.gguf"),
    }).path;
    const header = readGgufHeaderFile(path);
    const tokens = header.metadata.get("tokenizer.ggml.tokens");
    assert.ok(tokens?.type === 9 && tokens.itemType === 8 && tokens.items.length === 32000);
    assert.equal(tokens.items[1], "<s>");
    assert.equal(tokens.items[2], "</s>");
    assert.deepEqual(header.metadata.get("tokenizer.ggml.model"), { type: 8, value: "llama" });
    // Every 2-D tensor is q8_0 (type 8); norms are F32.
    for (const tensor of header.tensors) {
      assert.equal(tensor.type, tensor.dimensions.length === 1 ? 0 : 8, tensor.name);
      assert.equal(Number(tensor.offset) % 32, 0, `${tensor.name} is aligned`);
    }
    assert.equal(header.tensors.length, 3 + 9 * tinyShape.layers);
  });

  it("the tinyllama-1.1b shape has TinyLlama's 1.1 B parameters", () => {
    assert.equal(parameterCount(tinyllama11bShape, 32000), 1_100_048_384);
  });

  it("rejects an unknown shape, quant or seed with a message naming the choices", () => {
    assert.throws(
      () => makeTestModel({ shape: "huge", quant: "q8_0", seed: 1, out: join(scratch, "x") }),
      /known: tiny/,
    );
    assert.throws(
      () => makeTestModel({ shape: "tiny", quant: "q3" as never, seed: 1, out: join(scratch, "x") }),
      /f16, q8_0, q4_0/,
    );
    assert.throws(() => makeTestModel({ shape: "tiny", quant: "q8_0", seed: -1, out: join(scratch, "x") }), /seed/);
  });
});

describe("toFloat16Bits", () => {
  it("rounds to IEEE half precision", () => {
    assert.equal(toFloat16Bits(1), 0x3c00);
    assert.equal(toFloat16Bits(-2), 0xc000);
    assert.equal(toFloat16Bits(0.1), 0x2e66);
    assert.equal(toFloat16Bits(65504), 0x7bff);
    assert.equal(toFloat16Bits(1e6), 0x7c00);
    assert.equal(toFloat16Bits(2 ** -24), 0x0001);
    assert.equal(toFloat16Bits(0), 0);
  });
});
