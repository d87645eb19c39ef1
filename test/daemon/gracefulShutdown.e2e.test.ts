/**
 * SIGTERM: stop accepting, let in-flight work finish within the grace period (or end it with
 * E_SHUTTING_DOWN), then exit 0 — every accepted request still gets exactly one final answer.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DaemonProcess } from "../../harness/DaemonProcess.js";
import { ProtocolClient } from "../../harness/ProtocolClient.js";
import { testDaemonFlags } from "../support/testDaemonFlags.js";

function daemonWithGrace(graceMs: number): DaemonProcess {
  return new DaemonProcess(testDaemonFlags({ "model.contextSize": 2048, "scheduler.shutdownGraceMs": graceMs }));
}

describe("graceful shutdown", () => {
  it("finishes an in-flight request within the grace period, then exits 0", async () => {
    const daemon = daemonWithGrace(60_000);
    const client = await ProtocolClient.connect(await daemon.start());
    const answer = client.answer("inflight");
    client.send({ type: "generate", id: "inflight", prompt: "Tell me", max_tokens: 60, temperature: 0 });
    await client.tokensReceived("inflight", 1);
    daemon.signal("SIGTERM");
    const { final } = await answer;
    assert.equal(final.type, "done");
    assert.equal(final.type === "done" && final.usage.completion_tokens, 60);
    assert.equal((await daemon.exited()).code, 0);
  });

  it("past the grace period, ends what is still running with E_SHUTTING_DOWN and exits 0", async () => {
    const daemon = daemonWithGrace(200);
    const client = await ProtocolClient.connect(await daemon.start());
    const answer = client.answer("endless");
    client.send({ type: "generate", id: "endless", prompt: "Count:", max_tokens: 2000, temperature: 0 });
    await client.tokensReceived("endless", 1);
    daemon.signal("SIGTERM");
    const { final, all } = await answer;
    assert.equal(final.type, "error");
    assert.equal(final.type === "error" && final.error.code, "E_SHUTTING_DOWN");
    assert.equal(all.filter((m) => m.type === "done" || m.type === "error").length, 1);
    assert.equal((await daemon.exited()).code, 0);
  });
});
