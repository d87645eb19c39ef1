/**
 * Slow (npm run test:slow): the full TinyLlama-1.1B shape at q8_0, made by the CLI and loaded by
 * node-llama-cpp, which must report 1.1 B parameters.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, it } from "node:test";
import { getLlama, type Token } from "node-llama-cpp";
import { cliPath } from "../../harness/DaemonProcess.js";

const scratch = mkdtempSync(join(tmpdir(), "tinyllamad-full-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

it("models make-test --shape tinyllama-1.1b --quant q8_0 writes a ~1.1 GB model of 1.1 B parameters", async () => {
  const out = join(scratch, "tinyllama-1.1b-q8_0.gguf");
  const printed = execFileSync(
    process.execPath,
    [cliPath, "models", "make-test", "--shape", "tinyllama-1.1b", "--quant", "q8_0", "--out", out],
    {
      encoding: "utf8",
    },
  );
  assert.match(printed, /1\.100 B parameters/);
  const bytes = statSync(out).size;
  assert.ok(bytes > 1.1e9 && bytes < 1.2e9, `size ${bytes}`);
  const llama = await getLlama({ gpu: false, build: "never" });
  try {
    const model = await llama.loadModel({ modelPath: out });
    assert.equal(model.fileInsights.totalParameters, 1_100_048_384);
    assert.equal(model.trainContextSize, 2048);
    const context = await model.createContext({ contextSize: 256, threads: 2 });
    const tokens: number[] = [];
    for await (const token of context.getSequence().evaluate([1, 15043] as Token[], { temperature: 0 })) {
      tokens.push(token);
      if (tokens.length === 2) break;
    }
    assert.equal(tokens.length, 2);
  } finally {
    await llama.dispose();
  }
});
