/**
 * The default model is pulled on first start (here from a local mirror), a failed pull stops
 * start-up saying exactly what to do, and a model change + SIGHUP swaps models without dropping
 * requests (a model that fails to load leaves the old one serving).
 */
import assert from "node:assert/strict";
import { createReadStream, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { makeTestModel } from "../../devtools/testModel/makeTestModel.js";
import { DaemonProcess } from "../../harness/DaemonProcess.js";
import { freePort } from "../../harness/freePort.js";
import { ProtocolClient } from "../../harness/ProtocolClient.js";
import { testDaemonFlags } from "../support/testDaemonFlags.js";
import { writeTestModelCatalog } from "../support/testModelCatalog.js";
import { testModelPath } from "../support/testModels.js";

const scratch = mkdtempSync(join(tmpdir(), "tinyllamad-lifecycle-"));
after(() => rmSync(scratch, { recursive: true, force: true }));
const defaultFile = "tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf";

async function mirrorServing(file: string): Promise<{ url: string; server: Server }> {
  const server = createServer((request, response) => {
    if (request.url !== `/${defaultFile}`) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { "content-length": statSync(file).size, "content-type": "application/octet-stream" });
    createReadStream(file).pipe(response);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${port}`, server };
}

/** model.path empty (its default): the board's default model, pulled into the store when missing. */
const defaultModel = (settings: Record<string, string>) => testDaemonFlags({ "model.path": "", ...settings });

describe("model lifecycle", () => {
  it("pulls the default model on first start from the site mirror, verifies its sha256, then serves it", async () => {
    const { url, server } = await mirrorServing(testModelPath());
    const home = join(scratch, "home-pull");
    // A catalog whose default is the test model with its real digest: the pull is verified, as on a board.
    const catalog = writeTestModelCatalog(scratch, defaultFile);
    const daemon = new DaemonProcess(defaultModel({ "model.mirrorUrl": url, "model.catalog": catalog }), {
      XDG_DATA_HOME: home,
    });
    try {
      const ws = await daemon.start(60_000);
      assert.ok(daemon.logLines.some((l) => l.msg === "default model for this board"));
      assert.ok(daemon.logLines.some((l) => l.msg === "default model pulled" && l.verified === true));
      assert.equal(statSync(join(home, "tinyllamad", "models", defaultFile)).size, statSync(testModelPath()).size);
      const client = await ProtocolClient.connect(ws);
      assert.equal((await client.request({ id: "p", prompt: "Hi", max_tokens: 3 })).final.type, "done");
      await client.close();
    } finally {
      await daemon.stop();
      server.close();
    }
  });

  it("offline, start-up stops at once with exit 78 and says how to get the model", async () => {
    const port = await freePort();
    const home = join(scratch, "home-offline");
    const daemon = new DaemonProcess(defaultModel({ "model.mirrorUrl": `http://127.0.0.1:${port}` }), {
      XDG_DATA_HOME: home,
    });
    await assert.rejects(daemon.start(60_000));
    assert.equal((await daemon.exited()).code, 78);
    assert.match(daemon.stderr, /could not be pulled \(E_SOURCE_UNREACHABLE: .*refused the connection/);
    assert.equal(daemon.logLines.filter((l) => l.msg === "download failed; retrying").length, 0, "not retried");
    // This machine is x86-64: its default is Q4_K_M.
    assert.match(daemon.stderr, /tinyllamad models pull tinyllama-1\.1b-chat:q4_k_m --mirror http:\/\/MIRROR\/PATH/);
    assert.match(daemon.stderr, /tinyllamad models pull tinyllama-1\.1b-chat:q4_k_m --from \/path\/to\//);
    assert.match(
      daemon.stderr,
      new RegExp(`copy the file to exactly ${join(home, "tinyllamad", "models", defaultFile)}`),
    );
    assert.match(daemon.stderr, /model\.path/);
  });

  it("a mirror serving a file that is not the default model: E_CHECKSUM_MISMATCH, exit 78, nothing loaded", async () => {
    const { url, server } = await mirrorServing(testModelPath());
    const home = join(scratch, "home-mismatch");
    const daemon = new DaemonProcess(defaultModel({ "model.mirrorUrl": url }), { XDG_DATA_HOME: home });
    try {
      await assert.rejects(daemon.start(60_000));
      assert.equal((await daemon.exited()).code, 78);
      assert.match(daemon.stderr, /E_CHECKSUM_MISMATCH: .* is 668788096 bytes with sha256 9fecc3b3cd76bba8/);
      assert.equal(existsSync(join(home, "tinyllamad", "models", defaultFile)), false);
      assert.equal(
        daemon.logLines.some((l) => l.msg === "loading model"),
        false,
        "never loaded",
      );
    } finally {
      server.close();
    }
  });

  it("hot-swaps the model on SIGHUP: in-flight requests finish, new ones use the new model", async () => {
    const second = makeTestModel({ shape: "tiny", quant: "q8_0", seed: 2, out: join(scratch, "second.gguf") }).path;
    const config = join(scratch, "config.json");
    writeFileSync(config, JSON.stringify({ model: { path: testModelPath(), contextSize: 512 } }));
    // Not testDaemonFlags: its --model.path would override the configuration file's, which SIGHUP rereads.
    const daemon = new DaemonProcess(["--config", config, "--mqtt.enabled", "false", "--http.port", "0"]);
    const ws = await daemon.start();
    try {
      const client = await ProtocolClient.connect(ws);
      const inFlight = [0, 1, 2].map((i) => client.answer(`old${i}`));
      for (const i of [0, 1, 2])
        client.send({ type: "generate", id: `old${i}`, prompt: `Long ${i}:`, max_tokens: 150, temperature: 0 });
      await client.tokensReceived("old0", 2);

      writeFileSync(config, JSON.stringify({ model: { path: join(scratch, "missing.gguf"), contextSize: 512 } }));
      daemon.signal("SIGHUP");
      await daemon.waitForLog((l) => l.msg === "the new model failed to load; the old one keeps serving", 60_000);

      writeFileSync(config, JSON.stringify({ model: { path: second, contextSize: 512 } }));
      daemon.signal("SIGHUP");
      // "model swapped" comes once the old model's in-flight requests have finished and it is freed.
      await daemon.waitForLog((l) => l.msg === "model swapped", 120_000);
      const health = (await (await fetch(`${ws.replace("ws://", "http://")}healthz`)).json()) as { model: string };
      assert.equal(health.model, "second.gguf");
      const fresh = await client.request({ id: "new", prompt: "Hello", max_tokens: 4, temperature: 0 });
      assert.equal(fresh.final.type, "done");
      for (const answer of await Promise.all(inFlight)) {
        assert.equal(answer.final.type, "done", JSON.stringify(answer.final));
        assert.equal(answer.all.filter((m) => m.type === "done" || m.type === "error").length, 1);
      }
      await client.close();
    } finally {
      assert.equal((await daemon.stop()).code, 0);
    }
  });

  it("an admin request with the admin token swaps the model; without it, E_UNAUTHORIZED", async () => {
    const third = makeTestModel({ shape: "tiny", quant: "q4_0", seed: 3, out: join(scratch, "third.gguf") }).path;
    const daemon = new DaemonProcess(testDaemonFlags(), {
      TINYLLAMAD_ADMIN_TOKEN: "op-secret-42",
      // third.gguf is outside the model store: admin swaps load only from the store and these directories
      TINYLLAMAD_ADMIN_MODEL_DIRECTORIES: scratch,
    });
    const ws = await daemon.start();
    try {
      const client = await ProtocolClient.connect(ws);
      const wrong = client.answer("a1");
      client.send({ type: "admin", id: "a1", token: "guess", action: "swap_model", model_path: third });
      const refused = (await wrong).final;
      assert.equal(refused.type === "error" && refused.error.code, "E_UNAUTHORIZED");

      const swapped = client.firstMessage((m) => m.id === "a2", 30_000);
      client.send({ type: "admin", id: "a2", token: "op-secret-42", action: "swap_model", model_path: third });
      const answer = await swapped;
      assert.equal(answer?.type, "admin_result", JSON.stringify(answer));
      assert.deepEqual(answer?.type === "admin_result" && answer.result, { model: "third.gguf" });
      const health = (await (await fetch(`${ws.replace("ws://", "http://")}healthz`)).json()) as { model: string };
      assert.equal(health.model, "third.gguf");
      assert.equal((await client.request({ id: "after", prompt: "Hi", max_tokens: 3 })).final.type, "done");
      assert.ok(!JSON.stringify(daemon.logLines).includes("op-secret-42"), "the admin token is never logged");
      await client.close();
    } finally {
      assert.equal((await daemon.stop()).code, 0);
    }
  });
});
