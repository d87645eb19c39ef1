/**
 * The MQTT API against a real Mosquitto (MQTT 5 and 3.1.1) and against the embedded broker.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type mqtt from "mqtt";
import { DaemonProcess } from "../../harness/DaemonProcess.js";
import { MosquittoBroker } from "../../harness/MosquittoBroker.js";
import { MqttProbeClient } from "../../harness/MqttProbeClient.js";
import { testModelPath } from "../support/testModels.js";

const node = "board-a";
const base = "tinyllamad";

function daemonArgs(extra: string[]): string[] {
  return [
    "--model.path",
    testModelPath(),
    "--model.contextSize",
    "512",
    "--http.port",
    "0",
    "--mqtt.nodeId",
    node,
    "--limits.maxMessageBytes",
    "65536",
    ...extra,
  ];
}

describe("MQTT API on Mosquitto", () => {
  const broker = new MosquittoBroker();
  const state = mkdtempSync(join(tmpdir(), "tinyllamad-mqtt-state-"));
  let daemon: DaemonProcess;
  let client: MqttProbeClient;

  before(async () => {
    await broker.start();
    daemon = new DaemonProcess(daemonArgs(["--mqtt.url", broker.url, "--state.directory", state]), {
      TINYLLAMAD_ADMIN_TOKEN: "mqtt-admin-7",
    });
    await daemon.start();
    client = await MqttProbeClient.connect(broker.url);
    await client.subscribe(["replies/#", `${base}/${node}/response/#`]);
  });

  after(async () => {
    await client?.end();
    if (daemon) assert.equal((await daemon.stop()).code, 0);
    await broker.dispose();
    rmSync(state, { recursive: true, force: true });
  });

  it("answers an MQTT 5 request on its response topic with its correlation data, streaming then done", async () => {
    await client.publish(
      `${base}/${node}/request`,
      { type: "generate", id: "v5", prompt: "Hello", max_tokens: 10, temperature: 0 },
      { properties: { responseTopic: "replies/v5", correlationData: Buffer.from("corr-123") } },
    );
    const final = await client.final("v5");
    assert.equal(final.type, "done");
    const all = client.received.filter((r) => r.message.id === "v5");
    assert.ok(all.every((r) => r.topic === "replies/v5" && r.correlationData === "corr-123"));
    const tokens = client.tokens("v5");
    assert.ok(tokens.length > 0);
    assert.equal(
      tokens.map((t) => (t.message.type === "token" ? t.message.text : "")).join(""),
      final.type === "done" ? final.text : "",
    );
    assert.equal(client.finals("v5").length, 1);
  });

  it("answers an MQTT 3.1.1 client at its reply_to", async () => {
    const v3 = await MqttProbeClient.connect(broker.url, { protocolVersion: 4 });
    try {
      await v3.subscribe("replies/v3");
      await v3.publish(`${base}/${node}/request`, {
        type: "generate",
        id: "v3",
        prompt: "Hi",
        max_tokens: 6,
        temperature: 0,
        reply_to: "replies/v3",
      });
      const final = await v3.final("v3");
      assert.equal(final.type === "done" && final.usage.completion_tokens, 6);
    } finally {
      await v3.end();
    }
  });

  it("answers on <base>/<node>/response/<id> when no reply topic is given", async () => {
    await client.publish(`${base}/${node}/request`, { type: "generate", id: "plain", prompt: "Hi", max_tokens: 4 });
    const final = await client.final("plain");
    assert.equal(final.type, "done");
    assert.equal(client.finals("plain")[0]?.topic, `${base}/${node}/response/plain`);
  });

  it("cancels through the cancel topic", async () => {
    await client.publish(`${base}/${node}/request`, {
      type: "generate",
      id: "long",
      prompt: "Count",
      max_tokens: 1500,
      temperature: 0,
    });
    await client.waitFor(() => client.tokens("long").length >= 2, 30_000, "tokens of 'long'");
    await client.publish(`${base}/${node}/cancel`, { id: "long" });
    const final = await client.final("long");
    assert.equal(final.type === "done" && final.finish_reason, "cancelled");
  });

  it("answers an admin status request that carries the admin token, and refuses one without it", async () => {
    await client.publish(
      `${base}/${node}/request`,
      { type: "admin", id: "adm1", token: "mqtt-admin-7", action: "status" },
      { properties: { responseTopic: "replies/adm1" } },
    );
    await client.waitFor(() => client.received.some((r) => r.message.id === "adm1"), 10_000, "admin answer");
    const answer = client.received.find((r) => r.message.id === "adm1")!;
    assert.equal(answer.topic, "replies/adm1");
    assert.equal(answer.message.type, "admin_result");
    assert.equal(answer.message.type === "admin_result" && answer.message.result.backend, "cpu");
    await client.publish(`${base}/${node}/request`, { type: "admin", id: "adm2", token: "nope", action: "status" });
    const refused = await client.final("adm2");
    assert.equal(refused.type === "error" && refused.error.code, "E_UNAUTHORIZED");
  });

  it("keeps a retained status with the model, backend, queue and version", async () => {
    const watcher = await MqttProbeClient.connect(broker.url);
    try {
      const statuses: Array<Record<string, unknown>> = [];
      watcher.client.on("message", (topic, payload, packet) => {
        if (topic === `${base}/${node}/status`)
          statuses.push({ ...JSON.parse(payload.toString()), retain: packet.retain });
      });
      await watcher.subscribe(`${base}/${node}/status`);
      await watcher.waitFor(() => statuses.length > 0, 10_000, "the retained status");
      const status = statuses[0]!;
      assert.equal(status.retain, true);
      assert.equal(status.state, "online");
      assert.equal(status.node, node);
      assert.equal(status.backend, "cpu");
      assert.match(String(status.model), /\.gguf$/);
      assert.match(String(status.version), /^\d+\.\d+\.\d+/);
      assert.deepEqual(Object.keys(status.queue as object).sort(), ["queued", "running"]);
    } finally {
      await watcher.end();
    }
  });

  describe("bad input gets an error answer (or a logged drop) and the daemon keeps serving", () => {
    const cases: Array<{
      name: string;
      payload: string | Buffer;
      properties?: mqtt.IClientPublishOptions["properties"];
      expect: { id: string | null; code: string; topic: string };
    }> = [
      {
        name: "malformed JSON with a response topic",
        payload: "{nope",
        properties: { responseTopic: "replies/bad1" },
        expect: { id: null, code: "E_BAD_JSON", topic: "replies/bad1" },
      },
      {
        name: "a wildcard reply_to",
        payload: JSON.stringify({ type: "generate", id: "wild", prompt: "x", reply_to: "replies/#" }),
        expect: { id: "wild", code: "E_BAD_TOPIC", topic: `${base}/${node}/response/wild` },
      },
      {
        name: "a $SYS reply_to",
        payload: JSON.stringify({ type: "generate", id: "sys", prompt: "x", reply_to: "$SYS/broker/x" }),
        expect: { id: "sys", code: "E_BAD_TOPIC", topic: `${base}/${node}/response/sys` },
      },
      {
        name: "a wrong field type",
        payload: JSON.stringify({ type: "generate", id: "wt", prompt: 42 }),
        expect: { id: "wt", code: "E_BAD_REQUEST", topic: `${base}/${node}/response/wt` },
      },
      {
        name: "a huge payload",
        payload: Buffer.alloc(70_000, 0x61),
        properties: { responseTopic: "replies/huge" },
        expect: { id: null, code: "E_MESSAGE_TOO_LARGE", topic: "replies/huge" },
      },
    ];
    for (const testCase of cases) {
      it(`${testCase.name} → ${testCase.expect.code}`, async () => {
        const before = client.received.length;
        await client.publish(`${base}/${node}/request`, testCase.payload, { properties: testCase.properties });
        await client.waitFor(
          () =>
            client.received.slice(before).some((r) => r.topic === testCase.expect.topic && r.message.type === "error"),
          30_000,
          testCase.expect.code,
        );
        const answer = client.received.slice(before).find((r) => r.topic === testCase.expect.topic)!;
        assert.equal(answer.message.type === "error" && answer.message.error.code, testCase.expect.code);
        assert.equal(answer.message.id, testCase.expect.id);
        const nextId = `after-${testCase.expect.code}-${before}`;
        await client.publish(`${base}/${node}/request`, { type: "generate", id: nextId, prompt: "ok?", max_tokens: 3 });
        assert.equal((await client.final(nextId)).type, "done");
      });
    }

    it("drops (with a log line) a bad request that names no trustworthy reply topic", async () => {
      await client.publish(`${base}/${node}/request`, "{garbage");
      await daemon.waitForLog((l) => l.msg === "dropping a bad request: no reply topic can be trusted", 10_000);
    });
  });

  it("sets the status offline through its last will when the daemon is killed", async () => {
    const watcher = await MqttProbeClient.connect(broker.url);
    const other = new DaemonProcess(
      daemonArgs(["--mqtt.url", broker.url, "--mqtt.nodeId", "doomed", "--state.directory", state]),
    );
    try {
      await other.start();
      const states: string[] = [];
      watcher.client.on("message", (topic, payload) => {
        if (topic === `${base}/doomed/status`) states.push(String(JSON.parse(payload.toString()).state));
      });
      await watcher.subscribe(`${base}/doomed/status`);
      await watcher.waitFor(() => states.includes("online"), 10_000, "online");
      other.signal("SIGKILL");
      await watcher.waitFor(() => states.at(-1) === "offline", 20_000, "offline from the last will");
    } finally {
      other.signal("SIGKILL");
      await watcher.end();
    }
  });
});

describe("MQTT API on the embedded broker (npm start's default)", () => {
  const state = mkdtempSync(join(tmpdir(), "tinyllamad-embedded-state-"));
  const daemon = new DaemonProcess(daemonArgs(["--mqtt.embeddedPort", "0", "--state.directory", state]));
  before(() => daemon.start());
  after(async () => {
    assert.equal((await daemon.stop()).code, 0);
    rmSync(state, { recursive: true, force: true });
  });

  it("starts a broker on loopback and serves MQTT 3.1.1 clients through reply_to", async () => {
    assert.match(daemon.mqttUrl ?? "", /^mqtt:\/\/127\.0\.0\.1:\d+$/);
    const client = await MqttProbeClient.connect(daemon.mqttUrl!, { protocolVersion: 4 });
    try {
      await client.subscribe("npc/7/answers");
      await client.publish(`${base}/${node}/request`, {
        type: "generate",
        id: "emb",
        messages: [{ role: "user", content: "Hello, smith!" }],
        max_tokens: 5,
        temperature: 0,
        reply_to: "npc/7/answers",
      });
      const final = await client.final("emb");
      assert.equal(final.type === "done" && final.usage.completion_tokens, 5);
    } finally {
      await client.end();
    }
  });
});
