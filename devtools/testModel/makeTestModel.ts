/**
 * Builds a Llama-architecture GGUF with TinyLlama's tokenizer and chat template and deterministic
 * random weights. Same options → same bytes.
 */

import { tinyLlamaChatTemplate } from "../../models/chatTemplates.js";
import { GgmlType, type GgufValue, llamaFileTypeOf } from "../../models/gguf/ggufFormat.js";
import { gguf, type TensorToWrite, writeGgufFile } from "../gguf/GgufWriter.js";
import { llamaTokenizerMetadata } from "./llamaVocabulary.js";
import { headDimension, type LlamaShape, modelShapes } from "./modelShapes.js";
import { produceRandomTensor, SeededRandom } from "./randomTensorData.js";

export const testModelQuants = { f16: GgmlType.F16, q8_0: GgmlType.Q8_0, q4_0: GgmlType.Q4_0 } as const;
export type TestModelQuant = keyof typeof testModelQuants;

export interface MakeTestModelOptions {
  shape: string;
  quant: TestModelQuant;
  seed: number;
  out: string;
  cacheDirectory?: string;
}

/** Weight scale: small enough that activations stay finite through 22 layers. */
const WEIGHT_STD = 0.02;

export function makeTestModel(options: MakeTestModelOptions): { path: string; shape: LlamaShape } {
  const shape = modelShapes[options.shape];
  if (!shape) throw new Error(`unknown shape "${options.shape}" (known: ${Object.keys(modelShapes).join(", ")})`);
  const matrixType = testModelQuants[options.quant];
  if (matrixType === undefined) throw new Error(`unknown quant "${options.quant}" (known: f16, q8_0, q4_0)`);
  if (!Number.isInteger(options.seed) || options.seed < 0 || options.seed > 0xffffffff) {
    throw new Error(`seed must be an integer 0..4294967295, got ${options.seed}`);
  }

  const tokenizer = llamaTokenizerMetadata(options.cacheDirectory);
  const tokens = tokenizer.get("tokenizer.ggml.tokens");
  const vocabSize = tokens?.type === 9 ? tokens.items.length : 0;
  if (vocabSize === 0) throw new Error("vocabulary has no tokens");

  const metadata = new Map<string, GgufValue>([
    ["general.architecture", gguf.string("llama")],
    ["general.name", gguf.string(`tinyllamad-test-${shape.name}-${options.quant}-seed${options.seed}`)],
    ["general.file_type", gguf.u32(llamaFileTypeOf[matrixType])],
    ["general.quantization_version", gguf.u32(2)],
    ["llama.vocab_size", gguf.u32(vocabSize)],
    ["llama.context_length", gguf.u32(shape.contextLength)],
    ["llama.embedding_length", gguf.u32(shape.hidden)],
    ["llama.block_count", gguf.u32(shape.layers)],
    ["llama.feed_forward_length", gguf.u32(shape.feedForward)],
    ["llama.rope.dimension_count", gguf.u32(headDimension(shape))],
    ["llama.rope.freq_base", gguf.f32(shape.ropeFreqBase)],
    ["llama.attention.head_count", gguf.u32(shape.headCount)],
    ["llama.attention.head_count_kv", gguf.u32(shape.headCountKv)],
    ["llama.attention.layer_norm_rms_epsilon", gguf.f32(shape.rmsNormEpsilon)],
    ...tokenizer,
    ["tokenizer.ggml.padding_token_id", gguf.u32(2)],
    ["tokenizer.chat_template", gguf.string(tinyLlamaChatTemplate)],
  ]);

  const kvWidth = headDimension(shape) * shape.headCountKv;
  const tensors: TensorToWrite[] = [];
  const add = (name: string, dimensions: number[], type: GgmlType, std: number, mean = 0) => {
    const elementCount = dimensions.reduce((a, b) => a * b, 1);
    tensors.push({
      name,
      dimensions,
      type,
      produce: (emit) =>
        produceRandomTensor({ type, elementCount, std, mean }, new SeededRandom(options.seed, name), emit),
    });
  };
  // Norm weights stay F32 (llama.cpp requires it for 1-D tensors), centred on 1.
  add("token_embd.weight", [shape.hidden, vocabSize], matrixType, WEIGHT_STD);
  for (let layer = 0; layer < shape.layers; layer++) {
    const block = `blk.${layer}`;
    add(`${block}.attn_norm.weight`, [shape.hidden], GgmlType.F32, 0.05, 1);
    add(`${block}.attn_q.weight`, [shape.hidden, shape.hidden], matrixType, WEIGHT_STD);
    add(`${block}.attn_k.weight`, [shape.hidden, kvWidth], matrixType, WEIGHT_STD);
    add(`${block}.attn_v.weight`, [shape.hidden, kvWidth], matrixType, WEIGHT_STD);
    add(`${block}.attn_output.weight`, [shape.hidden, shape.hidden], matrixType, WEIGHT_STD);
    add(`${block}.ffn_norm.weight`, [shape.hidden], GgmlType.F32, 0.05, 1);
    add(`${block}.ffn_gate.weight`, [shape.hidden, shape.feedForward], matrixType, WEIGHT_STD);
    add(`${block}.ffn_up.weight`, [shape.hidden, shape.feedForward], matrixType, WEIGHT_STD);
    add(`${block}.ffn_down.weight`, [shape.feedForward, shape.hidden], matrixType, WEIGHT_STD);
  }
  add("output_norm.weight", [shape.hidden], GgmlType.F32, 0.05, 1);
  // A wider output projection makes the logits spread, so greedy decoding does not sit on ties.
  add("output.weight", [shape.hidden, vocabSize], matrixType, 0.08);

  writeGgufFile(options.out, metadata, tensors);
  return { path: options.out, shape };
}
