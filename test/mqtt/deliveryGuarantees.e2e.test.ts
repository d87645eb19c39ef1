/**
 * The delivery guarantees of docs/mqtt.md on a real Mosquitto: a duplicate gets the same final
 * answer again; a retained request is answered once, also across restarts; SIGTERM keeps queued
 * requests for the next start; an answer cut off by a half-open link and a kill -9 is delivered
 * after the restart, once.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { DaemonProcess } from "../../harness/DaemonProcess.js";
import { MosquittoBroker } from "../../harness/MosquittoBroker.js";
import { MqttProbeClient } from "../../harness/MqttProbeClient.js";
import { mqttNodeFlags } from "../support/mqttNodeFlags.js";
import { StallingProxy } from "../support/StallingProxy.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("delivery guarantees", () => {
  const state = mkdtempSync(join(tmpdir(), "tinyllamad-guarantees-"));
  after(() => rmSync(state, { recursive: true, force: true }));
  const daemonFor = (brokerUrl: string, nodeId: string, extra: string[] = []) =>
    new DaemonProcess(mqttNodeFlags({ brokerUrl, nodeId, stateDirectory: state, maxQueue: 250, extra }));

  it("a duplicate request gets the same final answer again; a retained one is answered once, across restarts", async () => {
    const broker = new MosquittoBroker();
    await broker.start();
    const client = await MqttProbeClient.connect(broker.url);
    let daemon = daemonFor(broker.url, "dup");
    try {
      await daemon.start();
      await client.subscribe(["tinyllamad/dup/response/#", "dup-replies/#"]);
      // The README's "try it" request: no reply route, answered on the node's response topic.
      const request = { type: "generate", id: "again", prompt: "Say hi:", max_tokens: 4, temperature: 0 };
      await client.publish("tinyllamad/dup/request", request);
      await client.waitFor(() => client.finals("again").length === 1, 20_000, "the first answer");
      await client.publish("tinyllamad/dup/request", request);
      await client.waitFor(() => client.finals("again").length === 2, 20_000, "the answer again");
      const [first, second] = client.finals("again");
      assert.equal(first?.message.type, "done");
      assert.deepEqual(second?.message, first?.message, "the same final answer");

      const retained = { type: "generate", id: "kept", prompt: "Once:", max_tokens: 3, temperature: 0 };
      await client.publish("tinyllamad/dup/request", retained, {
        retain: true,
        properties: { responseTopic: "dup-replies/kept" },
      });
      await client.waitFor(() => client.finals("kept").length === 1, 20_000, "the retained request's answer");
      assert.equal((await daemon.stop()).code, 0);
      daemon = daemonFor(broker.url, "dup");
      await daemon.start();
      // Mosquitto sends the retained request again on the new subscription; a later request marks time.
      await client.publish("tinyllamad/dup/request", { ...request, id: "marker" });
      await client.waitFor(() => client.finals("marker").length === 1, 20_000, "the marker's answer");
      await sleep(1000);
      assert.equal(client.finals("kept").length, 1, "the retained request is not answered again");
      await client.publish("tinyllamad/dup/request", "", { retain: true });
    } finally {
      assert.equal((await daemon.stop()).code, 0);
      await client.end();
      await broker.dispose();
    }
  });

  it("SIGTERM with 200 queued MQTT requests: none refused, all answered exactly once after the restart", async () => {
    const broker = new MosquittoBroker();
    await broker.start();
    const client = await MqttProbeClient.connect(broker.url);
    let daemon = daemonFor(broker.url, "term");
    try {
      await daemon.start();
      await client.subscribe("term-replies/#");
      const ids = Array.from({ length: 200 }, (_, i) => `t${i}`);
      await Promise.all(
        ids.map((id) =>
          client.publish(
            "tinyllamad/term/request",
            { type: "generate", id, prompt: `Queued ${id}:`, max_tokens: 6, temperature: 0 },
            { properties: { responseTopic: `term-replies/${id}` } },
          ),
        ),
      );
      await client.waitFor(() => ids.some((id) => client.finals(id).length > 0), 20_000, "the first answer");
      assert.equal((await daemon.stop()).code, 0);
      const beforeRestart = ids.filter((id) => client.finals(id).length > 0).length;
      assert.ok(beforeRestart < 200, `work was still queued at SIGTERM (${beforeRestart} answered)`);
      daemon = daemonFor(broker.url, "term");
      await daemon.start();
      await client.waitFor(() => ids.every((id) => client.finals(id).length > 0), 50_000, "200 answers");
      await sleep(500);
      for (const id of ids) {
        const finals = client.finals(id);
        assert.equal(finals.length, 1, `${id} answered exactly once`);
        assert.equal(finals[0]?.message.type, "done", `${id}: ${JSON.stringify(finals[0]?.message)}`);
      }
    } finally {
      assert.equal((await daemon.stop()).code, 0);
      await client.end();
      await broker.dispose();
    }
  });

  it("a half-open link (the broker's acknowledgements never arrive), then kill -9: the answer is delivered after the restart, once", async () => {
    const broker = new MosquittoBroker();
    await broker.start();
    const proxy = new StallingProxy(broker.port);
    await proxy.start();
    const client = await MqttProbeClient.connect(broker.url);
    let daemon = daemonFor(proxy.url, "halfopen");
    try {
      await daemon.start();
      await client.subscribe("half-replies/#");
      await client.publish(
        "tinyllamad/halfopen/request",
        { type: "generate", id: "h1", prompt: "A long tale:", max_tokens: 40, temperature: 0, stream: true },
        { properties: { responseTopic: "half-replies/h1" } },
      );
      await client.waitFor(() => client.tokens("h1").length >= 1, 20_000, "streaming to start");
      // From now on nothing the broker sends reaches the daemon: no PUBREC, no PUBCOMP.
      proxy.stallBrokerToClient();
      const ledger = join(state, "mqtt", "ledger-halfopen.jsonl");
      for (let waited = 0; !readFileSync(ledger, "utf8").includes('"t":"sent"'); waited += 50) {
        assert.ok(waited < 20_000, "the final answer went out");
        await sleep(50);
      }
      await sleep(300);
      daemon.signal("SIGKILL");
      await daemon.exited();
      daemon = daemonFor(proxy.url, "halfopen");
      await daemon.start();
      await client.waitFor(() => client.finals("h1").length > 0, 20_000, "the answer after the restart");
      await sleep(1000);
      const finals = client.finals("h1");
      assert.equal(finals.length, 1, "exactly one final answer");
      assert.equal(finals[0]?.message.type, "done");
    } finally {
      assert.equal((await daemon.stop()).code, 0);
      await client.end();
      await proxy.stop();
      await broker.dispose();
    }
  });
});
