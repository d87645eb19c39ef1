/**
 * The edge memory profile on every board fixture: the plan for the board's default model fits the
 * board by the daemon's own estimate with room for the OS; a 2 GB Pi 4 keeps 2 sequences of 2048;
 * doctor prints the budget. (That the estimate is within 10 % of the measured footprint is a
 * measurement: bench/README.md, "Memory".)
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { chooseDefaultModel } from "../../hal/plan/chooseDefaultModel.js";
import { planBackend } from "../../hal/plan/planBackend.js";
import { osReserveBytes } from "../../hal/plan/planMemoryProfile.js";
import { cliPath } from "../../harness/DaemonProcess.js";
import { loadModelCatalog } from "../../models/catalog/modelCatalog.js";
import { boardFixtureNames, boardFixtureRoot } from "../fixtures/boards/makeBoardFixtures.js";
import { probeBoardFixture } from "./probeBoardFixture.js";

const catalog = loadModelCatalog();
const defaults = { backend: "auto" as const, threads: 0, contextSize: 2048, parallelSequences: 4 };

describe("the memory profile of each board fixture", () => {
  for (const name of boardFixtureNames)
    it(`${name}: the plan for its default model fits by the daemon's estimate, with ≥ 200 MiB left for the OS`, async () => {
      const hardware = await probeBoardFixture(name);
      const model = chooseDefaultModel(hardware, catalog, defaults).entry;
      const plan = planBackend(
        hardware,
        { format: "gguf", fileBytes: model.sizeBytes ?? model.approximateSizeBytes },
        defaults,
      );
      if (plan.backend === "npu") return; // the NPU holds its own model; the KV plan is llama.cpp's
      const needed = plan.memoryProfile.estimate.totalBytes;
      assert.equal(plan.memoryProfile.fits, true, plan.reasons.join("\n"));
      assert.ok(needed <= (hardware.memory.availableBytes as number), "fits what is available now");
      assert.ok(needed + osReserveBytes <= (hardware.memory.totalBytes as number), "leaves the OS its reserve");
      assert.equal(plan.contextSize, plan.memoryProfile.contextSize);
      assert.equal(plan.parallelSequences, plan.memoryProfile.parallelSequences);
    });

  it("a 2 GB Raspberry Pi 4 keeps 2 sequences of 2048 tokens with the Q4_K_M file", async () => {
    const fourGb = await probeBoardFixture("rpi4-4gb");
    const hardware = {
      ...fourGb,
      memory: { ...fourGb.memory, totalBytes: 1_893_316 * 1024, availableBytes: 1_640_000 * 1024 },
    };
    const plan = planBackend(hardware, { format: "gguf", fileBytes: 668_788_096 }, defaults);
    assert.ok(plan.parallelSequences >= 2, `${plan.parallelSequences} sequences`);
    assert.equal(plan.contextSize, 2048);
    assert.equal(plan.memoryProfile.fits, true);
  });

  it("doctor prints the budget: model + KV + runtime + OS reserve = total vs the board's memory", () => {
    const result = spawnSync(process.execPath, [cliPath, "doctor", "--root", boardFixtureRoot("rpi4-1gb")], {
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(result.status, 0, result.stderr);
    assert.match(
      result.stdout,
      /^budget: +model \d+ MiB \+ KV \d+ MiB \+ runtime \d+ MiB \(compute buffers \d+ MiB, daemon \d+ MiB\) \+ OS reserve 200 MiB = \d+ MiB vs 926 MiB total, 764 MiB available → fits$/m,
    );
    assert.match(result.stdout, /^plan: .*2 sequences × context 1024, q8_0 KV cache, batch 128/m);
  });
});
