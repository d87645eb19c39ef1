/**
 * Model file faults (issue 16): a model that cannot be loaded stops start-up with exit 78 and the
 * reason (so systemd does not retry the same file), and a model truncated in place under a serving
 * daemon does not kill it: backend.useMmap is off, so the weights live in the process's own memory.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { cliPath, DaemonProcess } from "../../harness/DaemonProcess.js";
import { ProtocolClient } from "../../harness/ProtocolClient.js";
import { testDaemonFlags } from "../support/testDaemonFlags.js";
import { testModelPath } from "../support/testModels.js";

const scratch = mkdtempSync(join(tmpdir(), "tinyllamad-model-faults-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

const serveArgs = (modelPath: string) =>
  testDaemonFlags({ "model.path": modelPath, "backend.threads": 2, "hal.calibrate": false });

function serveOnce(modelPath: string) {
  return spawnSync(process.execPath, [cliPath, "serve", ...serveArgs(modelPath)], {
    encoding: "utf8",
    env: { ...process.env, XDG_DATA_HOME: scratch },
    timeout: 60_000,
  });
}

function modelCopy(name: string): string {
  const path = join(scratch, name);
  copyFileSync(testModelPath(), path);
  return path;
}

describe("a model that cannot be loaded stops start-up with exit 78 and the reason", () => {
  it("a truncated model: llama.cpp's reason on stderr", () => {
    const path = modelCopy("truncated.gguf");
    truncateSync(path, Math.floor(statSync(path).size * 0.6));
    const result = serveOnce(path);
    assert.equal(result.status, 78, result.stderr);
    assert.match(result.stderr, new RegExp(`cannot load the model ${path}`));
    assert.match(result.stderr, /not within the file bounds, model is corrupted or incomplete/);
    assert.match(result.stderr, /models pull/);
  });

  it("a file that is not GGUF: says so without quoting its bytes", () => {
    const path = join(scratch, "not-gguf.gguf");
    const bytes = Buffer.from("SECRETBYTES-not-a-model".repeat(100));
    writeFileSync(path, bytes);
    const result = serveOnce(path);
    assert.equal(result.status, 78, result.stderr);
    assert.match(result.stderr, /does not start with the GGUF magic/);
    assert.ok(!result.stderr.includes("SECRETBYTES") && !result.stdout.includes("SECRETBYTES"));
  });

  it("a corrupt GGUF header", () => {
    const path = join(scratch, "corrupt-header.gguf");
    const good = readFileSync(testModelPath());
    writeFileSync(path, Buffer.concat([good.subarray(0, 4), randomBytes(64 * 1024)]));
    const result = serveOnce(path);
    assert.equal(result.status, 78, result.stderr);
    assert.match(result.stderr, /cannot load the model/);
  });
});

describe("a model truncated in place under a serving daemon", () => {
  it("does not kill it (no SIGBUS): the next request is answered from the weights in memory", async () => {
    const path = modelCopy("served.gguf");
    const daemon = new DaemonProcess(serveArgs(path), { XDG_DATA_HOME: scratch });
    const url = await daemon.start();
    const client = await ProtocolClient.connect(url);
    try {
      const before = await client.request({ id: "before", prompt: "Hello", max_tokens: 8, temperature: 0 });
      assert.equal(before.final.type, "done");
      truncateSync(path, 4096);
      const afterTruncation = await client.request({ id: "after", prompt: "Hello", max_tokens: 8, temperature: 0 });
      assert.equal(afterTruncation.final.type, "done", JSON.stringify(afterTruncation.final));
      assert.deepEqual(
        afterTruncation.tokens.map((token) => token.text),
        before.tokens.map((token) => token.text),
        "the same greedy answer as before the truncation",
      );
      assert.equal(daemon.pid !== undefined && isAlive(daemon.pid), true, "still running");
    } finally {
      await client.close();
      const exit = await daemon.stop();
      assert.equal(exit.signal, null, `the daemon ended by ${exit.signal}`);
      assert.equal(exit.code, 0);
    }
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
