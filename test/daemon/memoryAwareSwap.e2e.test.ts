/**
 * A model swap on a board whose memory holds one model but not two (a fixture board root with little
 * MemAvailable): the old model is drained and unloaded before the new one loads, the node says so,
 * requests sent meanwhile wait and are served by the new model. On a board with room, the swap loads
 * the new model beside the old one.
 */
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { estimateMemoryBytes } from "../../hal/plan/estimateMemoryBytes.js";
import { DaemonProcess } from "../../harness/DaemonProcess.js";
import { ProtocolClient } from "../../harness/ProtocolClient.js";
import { projectRoot } from "../../models/projectCacheDirectory.js";
import { testDaemonFlags } from "../support/testDaemonFlags.js";
import { testModelPath } from "../support/testModels.js";

const scratch = mkdtempSync(join(tmpdir(), "tinyllamad-memory-swap-"));
after(() => rmSync(scratch, { recursive: true, force: true }));
const token = "swap-token-18";
const first = testModelPath();
const second = testModelPath("tiny", "q8_0", 2);

/** A copy of the generic x86 board whose MemAvailable fits one of the two test models, not both. */
function boardWithRoomFor(models: number): string {
  const board = join(scratch, `board-${models}`);
  cpSync(join(projectRoot(), "test", "fixtures", "boards", "x86-64-generic"), board, { recursive: true });
  const need = Math.max(
    ...[first, second].map(
      (path) =>
        estimateMemoryBytes({ modelFileBytes: statSync(path).size, contextSize: 256, parallelSequences: 1 }).totalBytes,
    ),
  );
  const availableKb = Math.floor((need * (models + 0.5)) / 1024);
  writeFileSync(
    join(board, "proc", "meminfo"),
    `MemTotal:       ${availableKb * 2} kB\nMemFree:        ${availableKb} kB\nMemAvailable:   ${availableKb} kB\n`,
  );
  return board;
}

async function swapAndWatch(board: string) {
  const daemon = new DaemonProcess(
    testDaemonFlags({
      "model.path": first,
      "scheduler.parallelSequences": 1,
      "hal.root": board,
      "hal.calibrate": false,
      "admin.modelDirectories": dirname(second),
    }),
    { TINYLLAMAD_ADMIN_TOKEN: token },
  );
  const url = await daemon.start();
  const client = await ProtocolClient.connect(url);
  try {
    const swapped = client.firstMessage((message) => message.id === "swap", 60_000);
    client.send({ type: "admin", id: "swap", token, action: "swap_model", model_path: second });
    // Sent while the swap runs: it waits (unload-first) or runs on either model, and is answered.
    const during = await client.request({ id: "during", prompt: "Hello", max_tokens: 3 });
    const answer = await swapped;
    const statusAnswer = client.firstMessage((message) => message.id === "status", 10_000);
    client.send({ type: "admin", id: "status", token, action: "status" });
    const status = await statusAnswer;
    return { answer, during, status, logs: daemon.logLines };
  } finally {
    await client.close();
    await daemon.stop();
  }
}

describe("memory-aware model swap", () => {
  it("unloads the old model first when both do not fit the board, and serves the new one", async () => {
    const { answer, during, status, logs } = await swapAndWatch(boardWithRoomFor(1));
    assert.equal(answer.type, "admin_result", JSON.stringify(answer));
    assert.equal(during.final.type, "done", "a request sent during the swap is served");
    const unloadFirst = logs.findIndex((line) => line.msg.startsWith("both models do not fit memory together"));
    const loadsNew = logs.findIndex((line) => line.msg === "loading model" && line.modelPath === second);
    assert.ok(unloadFirst >= 0, "the swap says it unloads the old model first");
    assert.ok(
      loadsNew > unloadFirst,
      `the new model loads only after the old one is unloaded; the daemon logged: ${JSON.stringify(logs.map((l) => [l.component, l.msg, l.modelPath]))}`,
    );
    const line = logs[unloadFirst] as Record<string, unknown>;
    assert.ok((line.needBytes as number) > (line.haveBytes as number), "the need is more than the board has");
    const result = status.type === "admin_result" ? (status.result as Record<string, unknown>) : {};
    assert.equal(result.model, "tiny-q8_0-seed2.gguf");
    assert.equal(result.swap, null, "no swap is in progress once it is done");
  });

  it("loads the new model beside the old one when both fit", async () => {
    const { answer, logs } = await swapAndWatch(boardWithRoomFor(3));
    assert.equal(answer.type, "admin_result", JSON.stringify(answer));
    assert.equal(
      logs.findIndex((line) => line.msg.startsWith("both models do not fit memory together")),
      -1,
      "no unload-first swap when both fit",
    );
    assert.ok(logs.some((line) => line.msg === "model swapped"));
  });
});
