/**
 * Fallback down the chain (npu → vulkan → cpu): a backend that fails to load, and one that fails
 * mid-stream, both end with the daemon serving on the CPU backend, and every request gets its final
 * answer. The NPU here is the test library implementing librkllmrt.so's ABI.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DaemonProcess } from "../../harness/DaemonProcess.js";
import { ProtocolClient } from "../../harness/ProtocolClient.js";
import { fakeRkllmLibraryPath, fakeRkllmModelPath } from "../support/fakeRkllmRuntime.js";
import { testDaemonFlags } from "../support/testDaemonFlags.js";

function npuDaemon(rkllmModel: string): DaemonProcess {
  return new DaemonProcess(
    testDaemonFlags({
      "backend.kind": "npu",
      "npu.libraryPath": fakeRkllmLibraryPath(),
      "npu.modelPath": rkllmModel,
      "model.contextSize": 512,
    }),
  );
}

async function health(url: string): Promise<{ backend: string; fallbacks: Array<{ from: string; reason: string }> }> {
  return (await (await fetch(`${url.replace("ws://", "http://")}healthz`)).json()) as never;
}

describe("backend fallback", () => {
  it("a backend that fails to load: the daemon serves on the CPU and says why", async () => {
    const daemon = npuDaemon("/nonexistent/tinyllama.rkllm");
    const url = await daemon.start();
    try {
      const state = await health(url);
      assert.equal(state.backend, "cpu");
      assert.equal(state.fallbacks[0]?.from, "npu");
      assert.ok(state.fallbacks[0]!.reason.length > 0);
      assert.ok(daemon.logLines.some((l) => l.msg === "backend failed to load; falling back" && l.backend === "npu"));
      const client = await ProtocolClient.connect(url);
      const answer = await client.request({ id: "a", prompt: "Hello", max_tokens: 4 });
      assert.equal(answer.final.type, "done");
      await client.close();
    } finally {
      assert.equal((await daemon.stop()).code, 0);
    }
  });

  it("a backend that fails mid-stream: that request ends with E_BACKEND, the rest are answered, the CPU takes over", async () => {
    const daemon = npuDaemon(fakeRkllmModelPath());
    const url = await daemon.start();
    try {
      assert.equal((await health(url)).backend, "npu");
      const client = await ProtocolClient.connect(url);
      const answers = Promise.all([
        client.request({ id: "bad", prompt: "this one will FAIL_AT_3", max_tokens: 20 }),
        client.request({ id: "q1", prompt: "queued one", max_tokens: 5 }),
        client.request({ id: "q2", prompt: "queued two", max_tokens: 5 }),
      ]);
      const [bad, q1, q2] = await answers;
      assert.equal(bad.final.type === "error" && bad.final.error.code, "E_BACKEND");
      for (const answer of [q1, q2]) assert.equal(answer.final.type, "done", JSON.stringify(answer.final));
      for (const id of ["bad", "q1", "q2"])
        assert.equal(client.received.filter((m) => m.id === id && (m.type === "done" || m.type === "error")).length, 1);
      await daemon.waitForLog((l) => l.msg === "now serving on the fallback backend", 30_000);
      const state = await health(url);
      assert.equal(state.backend, "cpu");
      assert.equal(state.fallbacks.at(-1)?.from, "npu");
      const after = await client.request({
        id: "after",
        prompt: "FAIL_AT_3 means nothing to llama.cpp",
        max_tokens: 6,
      });
      assert.equal(after.final.type, "done");
      await client.close();
    } finally {
      assert.equal((await daemon.stop()).code, 0);
    }
  });
});
