/** `tinyllamad models make-test`: writes a random-weight TinyLlama-shaped GGUF. */

import { statSync } from "node:fs";
import { parseArgs } from "node:util";
import { makeTestModel, type TestModelQuant, testModelQuants } from "./testModel/makeTestModel.js";
import { modelShapes, parameterCount } from "./testModel/modelShapes.js";

export const makeTestModelUsage = `Usage: tinyllamad models make-test [--shape tiny|tinyllama-1.1b] [--quant f16|q8_0|q4_0] [--seed N] --out FILE

Writes a GGUF of the Llama architecture with TinyLlama's tokenizer and chat template and
deterministic random weights (same options, same bytes). For tests and benchmarks: its output is
not meaningful text.
  --shape   tiny (2 layers, hidden 128; default) or tinyllama-1.1b (22 layers, hidden 2048, 1.1 B parameters)
  --quant   matrix type: f16, q8_0 (default) or q4_0
  --seed    weight seed, 0..4294967295 (default 1)
  --out     the file to write`;

export function runMakeTestModelCommand(args: string[]): number {
  const { values } = parseArgs({
    args,
    options: {
      shape: { type: "string", default: "tiny" },
      quant: { type: "string", default: "q8_0" },
      seed: { type: "string", default: "1" },
      out: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    console.log(makeTestModelUsage);
    return 0;
  }
  if (!values.out) {
    console.error(`--out FILE is required\n\n${makeTestModelUsage}`);
    return 2;
  }
  if (!(values.quant in testModelQuants)) {
    console.error(`--quant must be one of ${Object.keys(testModelQuants).join(", ")} (got ${values.quant})`);
    return 2;
  }
  const seed = Number(values.seed);
  const started = Date.now();
  const { shape } = makeTestModel({
    shape: values.shape,
    quant: values.quant as TestModelQuant,
    seed,
    out: values.out,
  });
  const bytes = statSync(values.out).size;
  const parameters = parameterCount(shape, 32000);
  console.log(
    `wrote ${values.out}: ${shape.name} ${values.quant} seed ${seed}, ${(parameters / 1e9).toFixed(3)} B parameters, ` +
      `${(bytes / 1e6).toFixed(1)} MB in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return 0;
}

export const knownShapes = Object.keys(modelShapes);
