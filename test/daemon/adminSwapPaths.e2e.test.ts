/**
 * Admin swap_model against a real daemon over WebSocket: only regular GGUF files inside the model
 * store (or admin.modelDirectories) are loaded; relative paths, escapes, FIFOs and other content
 * are answered at once with E_BAD_REQUEST that quotes no file content; a swap past
 * admin.swapTimeoutMs is answered E_TIMEOUT and blocks neither the next swap nor SIGTERM.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import type { ServerMessage } from "../../daemon/protocol/messages.js";
import { DaemonProcess } from "../../harness/DaemonProcess.js";
import { ProtocolClient } from "../../harness/ProtocolClient.js";
import { testDaemonFlags } from "../support/testDaemonFlags.js";
import { testModelPath } from "../support/testModels.js";

const scratch = mkdtempSync(join(tmpdir(), "tinyllamad-swap-paths-"));
after(() => rmSync(scratch, { recursive: true, force: true }));
const home = join(scratch, "home");
const store = join(home, "tinyllamad", "models");
const outside = join(scratch, "outside");
mkdirSync(store, { recursive: true });
mkdirSync(outside);
copyFileSync(testModelPath(), join(store, "good.gguf"));
copyFileSync(testModelPath("tiny", "q8_0", 2), join(store, "second.gguf"));
copyFileSync(testModelPath(), join(outside, "elsewhere.gguf"));
const secret = "PRIVATE-KEY-8c1d: the bytes of this file must never reach a client";
writeFileSync(join(store, "notes.gguf"), secret);
writeFileSync(join(outside, "secret.txt"), secret);
symlinkSync(join(outside, "elsewhere.gguf"), join(store, "link.gguf"));
execFileSync("mkfifo", [join(store, "pipe.gguf")]);

const token = "op-token-31";

async function swap(client: ProtocolClient, id: string, modelPath: string): Promise<ServerMessage> {
  const answer = client.firstMessage((message) => message.id === id, 60_000);
  client.send({ type: "admin", id, token, action: "swap_model", model_path: modelPath });
  return answer;
}

function errorCode(message: ServerMessage): string | undefined {
  return message.type === "error" ? message.error.code : undefined;
}

describe("admin swap_model paths", () => {
  it("refuses relative, escaping, non-regular and non-GGUF paths; then a valid swap works and SIGTERM stops", async () => {
    const daemon = new DaemonProcess(testDaemonFlags(), { TINYLLAMAD_ADMIN_TOKEN: token, XDG_DATA_HOME: home });
    const ws = await daemon.start();
    try {
      const client = await ProtocolClient.connect(ws);
      const refused: Array<[string, RegExp]> = [
        ["sub/good.gguf", /absolute path/],
        ["./good.gguf", /absolute path/],
        ["../../../outside/elsewhere.gguf", /absolute path/],
        [`${store}/../models/good.gguf`, /'\.\.'/],
        [join(outside, "elsewhere.gguf"), /outside the model store/],
        [join(store, "link.gguf"), /outside the model store/],
        [join(outside, "secret.txt"), /outside the model store/],
        [join(store, "pipe.gguf"), /not a regular file/],
        [join(store, "notes.gguf"), /not a GGUF model file/],
        ["notes.gguf", /not a GGUF model file/],
        [join(outside, "missing.gguf"), /outside the model store/],
      ];
      for (const [index, [path, message]] of refused.entries()) {
        const answer = await swap(client, `bad${index}`, path);
        assert.equal(errorCode(answer), "E_BAD_REQUEST", `${path}: ${JSON.stringify(answer)}`);
        assert.match(answer.type === "error" ? answer.error.message : "", message, path);
        for (const fragment of ["PRIVATE", "8c1d", "bytes of this file"])
          assert.ok(!JSON.stringify(answer).includes(fragment), `${path}: the answer quotes the file`);
      }
      assert.ok(!JSON.stringify(daemon.logLines).includes("PRIVATE-KEY"), "the log does not quote the file either");
      const missing = await swap(client, "missing", join(store, "missing.gguf"));
      assert.match(missing.type === "error" ? missing.error.message : "", /model file not found/);
      const swapped = await swap(client, "good", join(store, "second.gguf"));
      assert.deepEqual(swapped.type === "admin_result" && swapped.result, { model: "second.gguf" });
      const byName = await swap(client, "by-name", "good.gguf");
      assert.deepEqual(byName.type === "admin_result" && byName.result, { model: "good.gguf" });
      assert.equal((await client.request({ id: "after", prompt: "Hi", max_tokens: 3 })).final.type, "done");
      await client.close();
    } finally {
      assert.equal((await daemon.stop()).code, 0, "SIGTERM stops the daemon");
    }
  });

  it("answers E_TIMEOUT past admin.swapTimeoutMs, keeps the old model, and never blocks the next swap or SIGTERM", async () => {
    const daemon = new DaemonProcess(testDaemonFlags({ "admin.swapTimeoutMs": 1 }), {
      TINYLLAMAD_ADMIN_TOKEN: token,
      XDG_DATA_HOME: home,
    });
    const ws = await daemon.start();
    try {
      const client = await ProtocolClient.connect(ws);
      for (const id of ["slow1", "slow2"]) {
        const answer = await swap(client, id, join(store, "second.gguf"));
        assert.equal(errorCode(answer), "E_TIMEOUT", JSON.stringify(answer));
      }
      const health = (await (await fetch(`${ws.replace("ws://", "http://")}healthz`)).json()) as { model: string };
      assert.notEqual(health.model, "second.gguf", "the old model keeps serving");
      assert.equal((await client.request({ id: "after", prompt: "Hi", max_tokens: 3 })).final.type, "done");
      await client.close();
    } finally {
      assert.equal((await daemon.stop()).code, 0, "SIGTERM stops the daemon");
    }
  });
});
