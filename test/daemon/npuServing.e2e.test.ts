/**
 * The daemon serves from the NPU backend exactly as from the CPU: same protocol, streaming, cancel,
 * errors — here on the test library that implements librkllmrt.so's ABI (there is no NPU here).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ProtocolClient } from "../../harness/ProtocolClient.js";
import { daemonForSuite } from "../support/daemonForSuite.js";
import { fakeRkllmLibraryPath, fakeRkllmModelPath } from "../support/fakeRkllmRuntime.js";
import { testDaemonFlags } from "../support/testDaemonFlags.js";

describe("tinyllamad serve --backend.kind npu", () => {
  const { url } = daemonForSuite(
    testDaemonFlags({
      "backend.kind": "npu",
      // The NPU daemon needs no GGUF model: as before the shared flags, none is given.
      "model.path": "",
      "npu.libraryPath": fakeRkllmLibraryPath(),
      "npu.modelPath": fakeRkllmModelPath(),
      "model.contextSize": "512",
      "scheduler.parallelSequences": "1",
    }),
  );

  it("streams a chat answer over WebSocket and reports the npu backend", async () => {
    const client = await ProtocolClient.connect(url());
    try {
      const answer = await client.request({ id: "n1", messages: [{ role: "user", content: "Hello" }], max_tokens: 12 });
      assert.equal(answer.final.type, "done", JSON.stringify(answer.final));
      assert.equal(answer.final.type === "done" && answer.final.usage.completion_tokens, 12);
      assert.equal(answer.tokens.map((t) => t.text).join(""), answer.final.type === "done" ? answer.final.text : "");
      const health = (await (await fetch(`${url().replace("ws://", "http://")}healthz`)).json()) as { backend: string };
      assert.equal(health.backend, "npu");
    } finally {
      await client.close();
    }
  });

  it("cancels mid-stream, refuses json_schema, and turns a runtime error into E_BACKEND", async () => {
    const client = await ProtocolClient.connect(url());
    try {
      const long = client.answer("n2");
      client.send({ type: "generate", id: "n2", prompt: "Tell a long story", max_tokens: 300 });
      await client.tokensReceived("n2", 2);
      client.send({ type: "cancel", id: "n2" });
      const { final } = await long;
      assert.equal(final.type === "done" && final.finish_reason, "cancelled");
      const schema = await client.request({ id: "n3", prompt: "x", json_schema: { type: "object" } });
      assert.equal(schema.final.type === "error" && schema.final.error.code, "E_BAD_SCHEMA");
      const failing = await client.request({ id: "n4", prompt: "please FAIL_AT_3 now", max_tokens: 20 });
      assert.equal(failing.final.type === "error" && failing.final.error.code, "E_BACKEND");
      const after = await client.request({ id: "n5", prompt: "still there?", max_tokens: 4 });
      assert.equal(after.final.type, "done");
    } finally {
      await client.close();
    }
  });
});
