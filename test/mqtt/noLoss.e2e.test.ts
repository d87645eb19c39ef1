/**
 * Nothing is lost: a daemon killed with SIGKILL mid-work answers every accepted request exactly once
 * after its restart, serves what was published while it was down; a broker restart mid-stream
 * still delivers every final answer.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { DaemonProcess } from "../../harness/DaemonProcess.js";
import { MosquittoBroker } from "../../harness/MosquittoBroker.js";
import { MqttProbeClient } from "../../harness/MqttProbeClient.js";
import { mqttNodeFlags } from "../support/mqttNodeFlags.js";

function daemonFor(brokerUrl: string, node: string, state: string): DaemonProcess {
  return new DaemonProcess(
    mqttNodeFlags({
      brokerUrl,
      nodeId: node,
      stateDirectory: state,
      maxQueue: 100,
      extra: ["--scheduler.shutdownGraceMs", "60000"],
    }),
  );
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("no request is lost", () => {
  const state = mkdtempSync(join(tmpdir(), "tinyllamad-noloss-"));
  after(() => rmSync(state, { recursive: true, force: true }));

  it("kill -9 with 50 requests in flight: after restart every request has exactly one final answer", async () => {
    const broker = new MosquittoBroker();
    await broker.start();
    const client = await MqttProbeClient.connect(broker.url);
    let second: DaemonProcess | undefined;
    try {
      await client.subscribe("crash-replies/#");
      const first = daemonFor(broker.url, "crashy", state);
      await first.start();
      const ids: string[] = [];
      for (let i = 0; i < 50; i++) {
        const id = `k${i}`;
        ids.push(id);
        await client.publish(
          "tinyllamad/crashy/request",
          { type: "generate", id, prompt: `Task ${i}:`, max_tokens: 12 + (i % 7) * 5, temperature: 0 },
          { properties: { responseTopic: `crash-replies/${id}` } },
        );
      }
      await client.waitFor(() => ids.filter((id) => client.finals(id).length > 0).length >= 6, 60_000, "6 answers");
      await sleep(37);
      first.signal("SIGKILL");
      assert.equal((await first.exited()).signal, "SIGKILL");
      const answeredBeforeCrash = ids.filter((id) => client.finals(id).length > 0).length;
      assert.ok(answeredBeforeCrash < 50, "some requests were still in flight at the crash");
      // Published while the daemon is down: the broker keeps them for its persistent session.
      for (let i = 50; i < 60; i++) {
        const id = `k${i}`;
        ids.push(id);
        await client.publish(
          "tinyllamad/crashy/request",
          { type: "generate", id, prompt: `Late task ${i}:`, max_tokens: 8, temperature: 0 },
          { properties: { responseTopic: `crash-replies/${id}` } },
        );
      }
      second = daemonFor(broker.url, "crashy", state);
      await second.start();
      await client.waitFor(() => ids.every((id) => client.finals(id).length > 0), 120_000, "all 60 answers");
      await sleep(500);
      const outcomes = new Map<string, string>();
      for (const id of ids) {
        const finals = client.finals(id);
        assert.equal(finals.length, 1, `${id} has exactly one final answer`);
        const final = finals[0]!.message;
        outcomes.set(id, final.type === "done" ? final.finish_reason : final.type === "error" ? final.error.code : "?");
      }
      for (const [id, outcome] of outcomes)
        assert.ok(["length", "stop", "E_INTERRUPTED"].includes(outcome), `${id}: ${outcome}`);
      for (let i = 50; i < 60; i++) assert.notEqual(outcomes.get(`k${i}`), "E_INTERRUPTED", "late requests are served");
    } finally {
      if (second) assert.equal((await second.stop()).code, 0);
      await client.end();
      await broker.dispose();
    }
  });

  it("a broker restart mid-stream: the daemon reconnects and every request still gets its final answer", async () => {
    const broker = new MosquittoBroker({ persistence: true });
    await broker.start();
    const daemon = daemonFor(broker.url, "steady", state);
    await daemon.start();
    const client = await MqttProbeClient.connect(broker.url, {
      clientId: "probe-steady",
      clean: false,
      properties: { sessionExpiryInterval: 600 },
    });
    try {
      await client.subscribe("steady-replies/#");
      const ids = Array.from({ length: 6 }, (_, i) => `b${i}`);
      for (const id of ids) {
        await client.publish(
          "tinyllamad/steady/request",
          { type: "generate", id, prompt: `Long story ${id}:`, max_tokens: 120, temperature: 0 },
          { properties: { responseTopic: `steady-replies/${id}` } },
        );
      }
      await client.waitFor(() => client.tokens("b0").length >= 2, 30_000, "streaming to start");
      await broker.stop();
      await sleep(1500);
      await broker.start();
      await client.waitFor(() => ids.every((id) => client.finals(id).length > 0), 120_000, "all 6 answers");
      await sleep(300);
      for (const id of ids) {
        assert.equal(client.finals(id).length, 1, `${id}: one final answer`);
        assert.equal(client.finals(id)[0]?.message.type, "done");
      }
      await daemon.waitForLog((l) => l.msg === "MQTT connected" && l.sessionPresent === true, 5_000);
    } finally {
      assert.equal((await daemon.stop()).code, 0);
      await client.end();
      await broker.dispose();
    }
  });
});
