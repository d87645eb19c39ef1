/**
 * A fleet of three daemons in one shared-subscription group on a real Mosquitto: each request
 * published once to the fleet topic is served by exactly one of them, and all of them serve some.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DaemonProcess } from "../../harness/DaemonProcess.js";
import { MosquittoBroker } from "../../harness/MosquittoBroker.js";
import { MqttProbeClient } from "../../harness/MqttProbeClient.js";
import { mqttNodeFlags } from "../support/mqttNodeFlags.js";

describe("fleet sharing through $share", () => {
  const broker = new MosquittoBroker();
  const state = mkdtempSync(join(tmpdir(), "tinyllamad-fleet-"));
  const nodes = ["pi-1", "pi-2", "pi-3"];
  const daemons = nodes.map(
    (node) => new DaemonProcess(mqttNodeFlags({ nodeId: node, stateDirectory: state, brokerUrl: "BROKER" })),
  );

  before(async () => {
    await broker.start();
    for (const daemon of daemons) {
      const args = (daemon as unknown as { args: string[] }).args;
      args[args.indexOf("BROKER")] = broker.url;
    }
    await Promise.all(daemons.map((d) => d.start()));
  });

  after(async () => {
    for (const daemon of daemons) assert.equal((await daemon.stop()).code, 0);
    await broker.dispose();
    rmSync(state, { recursive: true, force: true });
  });

  it("60 requests published once each get 60 answers, each from exactly one node, all nodes serving", async () => {
    const client = await MqttProbeClient.connect(broker.url);
    try {
      await client.subscribe("fleet-replies/#");
      const servedBy = new Map<string, string>();
      const served: Array<{ id: string; node: string }> = [];
      for (let i = 0; i < 60; i++) {
        await client.publish(
          "tinyllamad/fleet/request",
          { type: "generate", id: `f${i}`, prompt: `Job ${i}:`, max_tokens: 4, temperature: 0 },
          { properties: { responseTopic: `fleet-replies/f${i}`, correlationData: Buffer.from(`c${i}`) } },
        );
      }
      await client.waitFor(
        () => Array.from({ length: 60 }, (_, i) => client.finals(`f${i}`).length).every((n) => n >= 1),
        120_000,
        "60 answers",
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      for (let i = 0; i < 60; i++) {
        const finals = client.finals(`f${i}`);
        assert.equal(finals.length, 1, `f${i} answered exactly once`);
        assert.equal(finals[0]?.message.type, "done");
        assert.equal(finals[0]?.correlationData, `c${i}`);
      }
      // Who served what: each daemon logs one "request finished" line per request, with its id.
      for (const [index, daemon] of daemons.entries()) {
        const lines = daemon.logLines.filter((l) => l.msg === "request finished" && typeof l.id === "string");
        for (const line of lines) {
          const id = String(line.id);
          assert.equal(servedBy.get(id), undefined, `${id} served twice`);
          servedBy.set(id, nodes[index]!);
          served.push({ id, node: nodes[index]! });
        }
      }
      assert.equal(servedBy.size, 60, "every request was served by exactly one node");
      for (const node of nodes)
        assert.ok(
          served.some((s) => s.node === node),
          `${node} served some requests`,
        );
    } finally {
      await client.end();
    }
  });
});

describe("a full node holds fleet work back instead of refusing it", () => {
  const broker = new MosquittoBroker();
  const state = mkdtempSync(join(tmpdir(), "tinyllamad-fleet-full-"));
  const node = (name: string, parallel: number, maxQueue: number) =>
    new DaemonProcess(mqttNodeFlags({ nodeId: name, stateDirectory: state, parallelSequences: parallel, maxQueue }));
  // "tight" can run one request and queue none; "roomy" has plenty of room.
  const tight = node("tight", 1, 0);
  const roomy = node("roomy", 2, 50);

  before(async () => {
    await broker.start();
    for (const daemon of [tight, roomy]) {
      const args = (daemon as unknown as { args: string[] }).args;
      args.push("--mqtt.url", broker.url);
    }
    await Promise.all([tight.start(), roomy.start()]);
  });

  after(async () => {
    for (const daemon of [tight, roomy]) assert.equal((await daemon.stop()).code, 0);
    await broker.dispose();
    rmSync(state, { recursive: true, force: true });
  });

  it("never answers E_QUEUE_FULL and loses nothing: what a full node cannot take waits at the broker for it", async () => {
    const client = await MqttProbeClient.connect(broker.url);
    try {
      await client.subscribe("full-replies/#");
      const ids = Array.from({ length: 16 }, (_, i) => `h${i}`);
      await Promise.all(
        ids.map((id) =>
          client.publish(
            "tinyllamad/fleet/request",
            { type: "generate", id, prompt: `Work ${id}:`, max_tokens: 24, temperature: 0 },
            { properties: { responseTopic: `full-replies/${id}` } },
          ),
        ),
      );
      await client.waitFor(() => ids.every((id) => client.finals(id).length > 0), 120_000, "16 answers");
      for (const id of ids) {
        const finals = client.finals(id);
        assert.equal(finals.length, 1);
        assert.equal(finals[0]?.message.type, "done", JSON.stringify(finals[0]?.message));
      }
      const tightServed = tight.logLines.filter((l) => l.msg === "request finished").length;
      const roomyServed = roomy.logLines.filter((l) => l.msg === "request finished").length;
      // Mosquitto deals fleet requests round-robin whatever a member's load: the tight node's share
      // waits, unacknowledged, until it has room (docs/mqtt.md, "Fleet under overload").
      assert.equal(tightServed + roomyServed, 16);
      assert.ok(roomyServed > 0 && tightServed > 0, `roomy ${roomyServed}, tight ${tightServed}`);
    } finally {
      await client.end();
    }
  });
});
