/**
 * Fleet requests under overload on a real Mosquitto: every request published once to the fleet
 * topic ends with exactly one final answer, although far more arrive at once than the nodes'
 * queues take. Each node announces a Receive Maximum of its queue's size on its fleet connection
 * and holds back (does not acknowledge) what it has no room for, so the broker keeps the excess.
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

async function flood(client: MqttProbeClient, prefix: string, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
  await Promise.all(
    ids.map((id) =>
      client.publish(
        "tinyllamad/fleet/request",
        { type: "generate", id, prompt: `Item ${id}:`, max_tokens: 2, temperature: 0 },
        { properties: { responseTopic: `overload-replies/${id}` } },
      ),
    ),
  );
  return ids;
}

async function assertEachAnsweredOnce(client: MqttProbeClient, ids: string[]): Promise<void> {
  await client.waitFor(() => ids.every((id) => client.finals(id).length > 0), 50_000, `${ids.length} answers`);
  await new Promise((resolve) => setTimeout(resolve, 500));
  for (const id of ids) {
    const finals = client.finals(id);
    assert.equal(finals.length, 1, `${id} answered exactly once`);
    assert.equal(finals[0]?.message.type, "done", `${id}: ${JSON.stringify(finals[0]?.message)}`);
  }
}

describe("fleet requests under overload", () => {
  const state = mkdtempSync(join(tmpdir(), "tinyllamad-overload-"));
  after(() => rmSync(state, { recursive: true, force: true }));

  it("one node, 200 fleet requests at once: 200 final answers, none twice", async () => {
    const broker = new MosquittoBroker();
    await broker.start();
    const node = new DaemonProcess(
      mqttNodeFlags({ brokerUrl: broker.url, nodeId: "solo", stateDirectory: state, maxQueue: 10 }),
    );
    const client = await MqttProbeClient.connect(broker.url);
    try {
      await node.start();
      await client.subscribe("overload-replies/#");
      const ids = await flood(client, "s", 200);
      await assertEachAnsweredOnce(client, ids);
    } finally {
      assert.equal((await node.stop()).code, 0);
      await client.end();
      await broker.dispose();
    }
  });

  it("two nodes with maxQueue 10, 300 fleet requests: 300 final answers, each served by one node once", async () => {
    const broker = new MosquittoBroker();
    await broker.start();
    const nodes = ["duo-1", "duo-2"].map(
      (nodeId) =>
        new DaemonProcess(mqttNodeFlags({ brokerUrl: broker.url, nodeId, stateDirectory: state, maxQueue: 10 })),
    );
    const client = await MqttProbeClient.connect(broker.url);
    try {
      await Promise.all(nodes.map((n) => n.start()));
      await client.subscribe("overload-replies/#");
      const ids = await flood(client, "d", 300);
      await assertEachAnsweredOnce(client, ids);
      const served = nodes.map((n) => n.logLines.filter((l) => l.msg === "request finished").length);
      assert.equal(served[0]! + served[1]!, 300, `served ${served.join(" + ")}`);
      assert.ok(
        served.every((count) => count > 0),
        "both nodes served",
      );
    } finally {
      for (const n of nodes) assert.equal((await n.stop()).code, 0);
      await client.end();
      await broker.dispose();
    }
  });
});
