/** The Llama-architecture shapes the test-model generator can build. */
export interface LlamaShape {
  name: string;
  layers: number;
  hidden: number;
  headCount: number;
  headCountKv: number;
  feedForward: number;
  contextLength: number;
  ropeFreqBase: number;
  rmsNormEpsilon: number;
}

/** TinyLlama-1.1B: 22 layers, hidden 2048, 32 query / 4 KV heads (GQA), FFN 5632, context 2048. */
export const tinyllama11bShape: LlamaShape = {
  name: "tinyllama-1.1b",
  layers: 22,
  hidden: 2048,
  headCount: 32,
  headCountKv: 4,
  feedForward: 5632,
  contextLength: 2048,
  ropeFreqBase: 10000,
  rmsNormEpsilon: 1e-5,
};

/** The same architecture (GQA 4:1, SwiGLU, RoPE) scaled down so tests load and run it in milliseconds. */
export const tinyShape: LlamaShape = {
  name: "tiny",
  layers: 2,
  hidden: 128,
  headCount: 8,
  headCountKv: 2,
  feedForward: 352,
  contextLength: 2048,
  ropeFreqBase: 10000,
  rmsNormEpsilon: 1e-5,
};

export const modelShapes: Record<string, LlamaShape> = {
  [tinyShape.name]: tinyShape,
  [tinyllama11bShape.name]: tinyllama11bShape,
};

export function headDimension(shape: LlamaShape): number {
  return shape.hidden / shape.headCount;
}

/** Parameter count including embeddings and output, for a vocabulary of `vocabSize`. */
export function parameterCount(shape: LlamaShape, vocabSize: number): number {
  const kvWidth = headDimension(shape) * shape.headCountKv;
  const perLayer =
    2 * shape.hidden + // attention and FFN norms
    2 * shape.hidden * shape.hidden + // q, output
    2 * shape.hidden * kvWidth + // k, v
    3 * shape.hidden * shape.feedForward; // gate, up, down
  return shape.layers * perLayer + 2 * vocabSize * shape.hidden + shape.hidden;
}
