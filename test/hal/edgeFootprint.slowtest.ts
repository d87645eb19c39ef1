/**
 * Slow (npm run test:slow): the daemon's own memory estimate (hal/plan/estimateMemoryBytes.ts) — the figure
 * every board's plan and `doctor`'s budget line rest on — against the footprint measured on this machine.
 * A full-size TinyLlama-1.1B (q4_0, random weights, 638 MB) runs with the plans the HAL makes for a 1 GB and a
 * 2 GB Raspberry Pi 4, every sequence evaluating a prompt longer than one batch at the same time (the KV
 * cache and the compute buffers touched as in real use); the estimate must be within 10 % of the peak RSS.
 * Memory, not speed: nothing here is timed. (bench/README.md, "Memory", has the same measurement for the
 * catalog's quantizations and under qemu-aarch64.)
 */
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { describe, it } from "node:test";
import { chooseDefaultModel } from "../../hal/plan/chooseDefaultModel.js";
import { estimateMemoryBytes, type KvCacheType } from "../../hal/plan/estimateMemoryBytes.js";
import { planBackend } from "../../hal/plan/planBackend.js";
import { DaemonProcess } from "../../harness/DaemonProcess.js";
import { ProtocolClient } from "../../harness/ProtocolClient.js";
import { peakMemoryDuring, processMemory } from "../../harness/processMemory.js";
import { loadModelCatalog } from "../../models/catalog/modelCatalog.js";
import { testDaemonFlags } from "../support/testDaemonFlags.js";
import { testModelPath } from "../support/testModels.js";
import { probeBoardFixture } from "./probeBoardFixture.js";

const defaults = { backend: "auto" as const, threads: 0, contextSize: 2048, parallelSequences: 4 };
const words = "the robot walked into a quiet garden where old machines told stories about rain and light".split(" ");

/** A prompt of `count` words no other prompt of this suite starts like (one token or more a word). */
function longPrompt(index: number, count: number): string {
  return [
    `Story ${index}:`,
    ...Array.from({ length: count }, (_, i) => words[(i * 7 + index * 3) % words.length]),
  ].join(" ");
}

interface PlanShape {
  contextSize: number;
  parallelSequences: number;
  kvCacheType: string;
  batchSize: number;
}

async function planFor(board: "1 GB" | "2 GB", modelFileBytes: number): Promise<PlanShape> {
  if (board === "1 GB") {
    // The shape the 1 GB Pi 4 gets for its own default model (Q3_K_M): the tightest plan the HAL makes.
    const hardware = await probeBoardFixture("rpi4-1gb");
    const model = chooseDefaultModel(hardware, loadModelCatalog(), defaults).entry;
    const plan = planBackend(
      hardware,
      { format: "gguf", fileBytes: model.sizeBytes ?? model.approximateSizeBytes },
      defaults,
    );
    assert.equal(plan.memoryProfile.fits, true, plan.reasons.join("\n"));
    return plan.memoryProfile;
  }
  const fourGb = await probeBoardFixture("rpi4-4gb");
  const hardware = {
    ...fourGb,
    memory: { ...fourGb.memory, totalBytes: 1_893_316 * 1024, availableBytes: 1_640_000 * 1024 },
  };
  return planBackend(hardware, { format: "gguf", fileBytes: modelFileBytes }, defaults).memoryProfile;
}

describe("the memory estimate against the measured footprint, full-size model", { timeout: 20 * 60_000 }, () => {
  const modelPath = testModelPath("tinyllama-1.1b", "q4_0");
  const modelFileBytes = statSync(modelPath).size;
  let promptIndex = 0;

  for (const board of ["1 GB", "2 GB"] as const)
    it(`the ${board} Raspberry Pi 4's plan: the estimate is within 10 % of the peak RSS`, async () => {
      const plan = await planFor(board, modelFileBytes);
      const daemon = new DaemonProcess(
        testDaemonFlags({
          "model.path": modelPath,
          "model.contextSize": plan.contextSize,
          "scheduler.parallelSequences": plan.parallelSequences,
          "backend.kvCacheType": plan.kvCacheType,
          "backend.batchSize": plan.batchSize,
          "backend.kind": "cpu",
          "backend.threads": 2,
        }),
      );
      const client = await ProtocolClient.connect(await daemon.start(300_000));
      try {
        const ask = async (prompt: string, index: number) => {
          const answer = await client.request(
            { id: `edge-${board}-${index}`, prompt, max_tokens: 4, temperature: 0 },
            600_000,
          );
          assert.equal(answer.final.type, "done", JSON.stringify(answer.final));
          return answer.final.type === "done" ? answer.final.usage.prompt_tokens : 0;
        };
        await ask("Hello", promptIndex++);
        const pid = daemon.pid as number;
        const idle = processMemory(pid);
        const { result: promptTokens, peak } = await peakMemoryDuring(
          pid,
          Promise.all(
            Array.from({ length: plan.parallelSequences }, () =>
              ask(longPrompt(promptIndex, plan.batchSize + 32), promptIndex++),
            ),
          ),
        );
        for (const tokens of promptTokens)
          assert.ok(
            tokens > plan.batchSize,
            `each prompt (${tokens} tokens) is longer than a batch (${plan.batchSize})`,
          );
        const estimate = estimateMemoryBytes({
          modelFileBytes,
          contextSize: plan.contextSize,
          parallelSequences: plan.parallelSequences,
          kvCacheType: plan.kvCacheType as KvCacheType,
          batchSize: plan.batchSize,
        });
        const estimateMiB = estimate.totalBytes / 1048576;
        const ratio = estimateMiB / peak.rssMiB;
        const detail = `plan ${plan.parallelSequences} × ${plan.contextSize}, ${plan.kvCacheType} KV, batch ${plan.batchSize}: estimate ${estimateMiB.toFixed(1)} MiB, peak RSS ${peak.rssMiB} MiB (anon ${peak.anonMiB}, file ${peak.fileMiB}; idle ${idle.rssMiB}), ratio ${ratio.toFixed(3)}`;
        console.log(detail);
        assert.ok(ratio >= 0.9 && ratio <= 1.1, detail);
      } finally {
        await client.close();
        await daemon.stop();
      }
    });
});
