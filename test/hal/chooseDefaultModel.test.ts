/**
 * The board's default model on the real probes of the fixture boards: Q4_0 where llama.cpp repacks it
 * (ARM with dot-product), Q4_K_M elsewhere, something smaller where memory needs it, a file already in
 * the store kept, and every choice explained.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { chooseDefaultModel, minimumDefaultContext } from "../../hal/plan/chooseDefaultModel.js";
import { planMemoryProfile } from "../../hal/plan/planMemoryProfile.js";
import { loadModelCatalog, type ModelCatalog } from "../../models/catalog/modelCatalog.js";
import { testModel } from "../store/testCatalogEntry.js";
import { probeBoardFixture } from "./probeBoardFixture.js";

const catalog = loadModelCatalog();
const defaults = { contextSize: 2048, parallelSequences: 4 };

const has = (reasons: string[], pattern: RegExp) =>
  assert.ok(
    reasons.some((reason) => pattern.test(reason)),
    `no reason matches ${pattern}:\n${reasons.join("\n")}`,
  );

describe("chooseDefaultModel on the fixture boards", () => {
  it("Raspberry Pi 4, 1 GB: no 4-bit file fits with a useful context → Q3_K_M, which does", async () => {
    const hardware = await probeBoardFixture("rpi4-1gb");
    const choice = chooseDefaultModel(hardware, catalog, defaults);
    assert.equal(choice.entry.name, "tinyllama-1.1b-chat:q3_k_m");
    assert.equal(choice.fits, true);
    assert.ok(choice.contextSize >= minimumDefaultContext, `context ${choice.contextSize}`);
    // The plan's memory profile for that file (q8_0 KV, a smaller batch, fewer sequences) fits.
    const profile = planMemoryProfile({
      contextSize: 2048,
      parallelSequences: defaults.parallelSequences,
      modelFileBytes: choice.entry.sizeBytes as number,
      totalBytes: hardware.memory.totalBytes,
      availableBytes: hardware.memory.availableBytes,
      kvCacheType: "auto",
      batchSize: 0,
    });
    assert.equal(profile.contextSize, choice.contextSize);
    assert.ok(profile.estimate.totalBytes <= (hardware.memory.availableBytes as number), "fits MemAvailable");
    has(choice.reasons, /without dot-product .* → Q4_K_M first/);
    has(choice.reasons, /q4_k_m .* does not fit/);
    has(choice.reasons, /q4_0 .* does not fit/);
    has(choice.reasons, /default model → tinyllama-1\.1b-chat:q3_k_m .*medium confidence/);
    // One sequence leaves room for the full 2048 tokens with the same file.
    const single = chooseDefaultModel(hardware, catalog, { contextSize: 2048, parallelSequences: 1 });
    assert.deepEqual([single.entry.name, single.contextSize], ["tinyllama-1.1b-chat:q3_k_m", 2048]);
  });

  it("Raspberry Pi 4, 4 GB: Cortex-A72 has no dot-product → Q4_K_M at the full context", async () => {
    const choice = chooseDefaultModel(await probeBoardFixture("rpi4-4gb"), catalog, defaults);
    assert.deepEqual([choice.entry.name, choice.contextSize, choice.fits], ["tinyllama-1.1b-chat:q4_k_m", 2048, true]);
    has(choice.reasons, /ARM CPU without dot-product/);
  });

  it("Orange Pi 5: Cortex-A76/A55 with asimddp → Q4_0 (repacked at load)", async () => {
    const choice = chooseDefaultModel(await probeBoardFixture("opi5-no-npu"), catalog, defaults);
    assert.deepEqual([choice.entry.name, choice.contextSize], ["tinyllama-1.1b-chat:q4_0", 2048]);
    has(choice.reasons, /ARM CPU with asimddp → Q4_0 first: llama\.cpp repacks Q4_0 at load/);
  });

  it("x86-64: Q4_K_M", async () => {
    const choice = chooseDefaultModel(await probeBoardFixture("x86-64-generic"), catalog, defaults);
    assert.deepEqual([choice.entry.name, choice.contextSize], ["tinyllama-1.1b-chat:q4_k_m", 2048]);
    has(choice.reasons, /x64 CPU → Q4_K_M first/);
  });

  it("a fitting board default already in the store is kept instead of pulling another file", async () => {
    const hardware = await probeBoardFixture("opi5-no-npu");
    const q4km = "tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf";
    const kept = chooseDefaultModel(hardware, catalog, { ...defaults, storedFileNames: new Set([q4km]) });
    assert.equal(kept.entry.fileName, q4km);
    has(kept.reasons, /already in the store and fits → kept instead of pulling tinyllama-1\.1b-chat:q4_0/);
    // …but not a file that does not fit the board.
    const small = await probeBoardFixture("rpi4-1gb");
    const notKept = chooseDefaultModel(small, catalog, { ...defaults, storedFileNames: new Set([q4km]) });
    assert.equal(notKept.entry.name, "tinyllama-1.1b-chat:q3_k_m");
  });

  it("a catalog with none of the board defaults falls back to its own defaultModel", async () => {
    const entry = testModel().entry(["http://mirror.site/tinyllamad-test-tiny.gguf"]);
    const own: ModelCatalog = { version: 1, defaultModel: entry.name, models: [entry] };
    const choice = chooseDefaultModel(await probeBoardFixture("opi5-no-npu"), own, defaults);
    assert.equal(choice.entry.name, entry.name);
    has(choice.reasons, /the catalog has none of Q4_0, Q4_K_M, Q3_K_M, Q2_K .* → its defaultModel/);
  });

  it("a board where nothing fits gets the smallest file and a warning", async () => {
    const hardware = await probeBoardFixture("rpi4-1gb");
    const tiny = { ...hardware, memory: { ...hardware.memory, availableBytes: 400 * 1024 * 1024 } };
    const choice = chooseDefaultModel(tiny, catalog, defaults);
    assert.deepEqual([choice.entry.name, choice.fits], ["tinyllama-1.1b-chat:q2_k", false]);
    has(choice.reasons, /^warning: no catalog model fits/);
  });
});
