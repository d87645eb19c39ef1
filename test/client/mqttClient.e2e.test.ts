/**
 * tinyllamad/client/mqtt against a real Mosquitto and a daemon on it: MQTT 5 (Response Topic +
 * Correlation Data) and MQTT 3.1.1 (`reply_to`) request/response over the device's own connection,
 * the fleet topic, and an AbortSignal that cancels at the node.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import mqtt from "mqtt";
import { TinyllamadMqttClient } from "../../client/mqtt.js";
import { DaemonProcess } from "../../harness/DaemonProcess.js";
import { MosquittoBroker } from "../../harness/MosquittoBroker.js";
import { testModelPath } from "../support/testModels.js";

const node = "helper-board";

describe("TinyllamadMqttClient on Mosquitto", () => {
  const broker = new MosquittoBroker();
  const state = mkdtempSync(join(tmpdir(), "tinyllamad-mqtt-client-"));
  let daemon: DaemonProcess;
  const connections: mqtt.MqttClient[] = [];

  before(async () => {
    await broker.start();
    daemon = new DaemonProcess([
      "--model.path",
      testModelPath(),
      "--model.contextSize",
      "2048",
      "--backend.threads",
      "1",
      "--http.port",
      "0",
      "--mqtt.url",
      broker.url,
      "--mqtt.nodeId",
      node,
      "--state.directory",
      state,
    ]);
    await daemon.start();
  });

  after(async () => {
    for (const connection of connections) await connection.endAsync();
    await daemon?.stop();
    await broker.dispose();
    rmSync(state, { recursive: true, force: true });
  });

  const connect = async (protocolVersion: 4 | 5) => {
    const connection = await mqtt.connectAsync(broker.url, { protocolVersion });
    connections.push(connection);
    return connection;
  };

  it("MQTT 5: streams the answer back on its reply topic, each message carrying the request id as Correlation Data", async () => {
    const connection = await connect(5);
    const seen: Array<{ topic: string; correlation: string | undefined }> = [];
    connection.on("message", (topic, _payload, packet) =>
      seen.push({ topic, correlation: packet.properties?.correlationData?.toString() }),
    );
    const llm = new TinyllamadMqttClient(connection, { node });
    const generation = llm.generate({ prompt: "Hello", max_tokens: 8, temperature: 0 });
    const pieces: string[] = [];
    for await (const piece of generation) pieces.push(piece);
    const done = await generation.result;
    assert.equal(pieces.join(""), done.text);
    assert.equal(done.usage.completion_tokens, 8);
    assert.ok(seen.length >= 2);
    assert.ok(seen.every((message) => message.topic === llm.replyTopic && message.correlation === generation.id));
    await llm.close();
  });

  it("MQTT 3.1.1: the same answer through reply_to", async () => {
    const v5 = new TinyllamadMqttClient(await connect(5), { node });
    const v3 = new TinyllamadMqttClient(await connect(4), { node });
    const request = { prompt: "Hello", max_tokens: 8, temperature: 0 };
    const [five, three] = [await v5.complete(request), await v3.complete(request)];
    assert.equal(three.text, five.text, "greedy: the same answer on both protocol versions");
    await v5.close();
    await v3.close();
  });

  it("the fleet topic: a node of the fleet answers", async () => {
    const llm = new TinyllamadMqttClient(await connect(5), { fleet: true });
    const done = await llm.complete({ prompt: "Hi", max_tokens: 4 });
    assert.equal(done.usage.completion_tokens, 4);
    await llm.close();
  });

  for (const protocolVersion of [5, 4] as const) {
    it(`MQTT ${protocolVersion === 5 ? "5" : "3.1.1"}: an AbortSignal cancels the request at the node`, async () => {
      const llm = new TinyllamadMqttClient(await connect(protocolVersion), { node });
      const controller = new AbortController();
      const generation = llm.generate(
        { prompt: "Tell a long story", max_tokens: 1900, temperature: 0 },
        { signal: controller.signal },
      );
      await assert.rejects(
        (async () => {
          for await (const _piece of generation) controller.abort();
        })(),
        (error: Error) => error.name === "AbortError",
      );
      const finished = await daemon.waitForLog((line) => line.id === generation.id && line.msg === "request finished");
      assert.equal(finished.outcome, "cancelled");
      await llm.close();
    });
  }
});
