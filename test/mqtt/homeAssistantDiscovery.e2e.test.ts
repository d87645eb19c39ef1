/**
 * Home Assistant MQTT discovery against a real Mosquitto and a real daemon: every discovery payload
 * is checked (keys per component, unique ids, device block, availability), each entity's state
 * topic and template (rendered with @huggingface/jinja, in the form the templates are restricted to)
 * yield what the status reports, the reload button and the ask entity work, turning ask or the
 * whole integration off removes what is no longer announced, `tinyllamad homeassistant remove`
 * decommissions a node that is gone, and no message leaks a token or a prompt.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { Template } from "@huggingface/jinja";
import mqtt from "mqtt";
import { cliPath, DaemonProcess } from "../../harness/DaemonProcess.js";
import { MosquittoBroker } from "../../harness/MosquittoBroker.js";
import { MqttProbeClient } from "../../harness/MqttProbeClient.js";
import { testModelPath } from "../support/testModels.js";

const node = "ha-board";
const base = "tinyllamad";
const prefix = "homeassistant";
const statusTopic = `${base}/${node}/status`;
const wsToken = "ws-token-never-on-mqtt-5521";
const adminToken = "admin-token-never-on-mqtt-8813";
const prompt = "zebra-quartz-4471 what is the capital of nowhere";

type Payload = Record<string, unknown>;

/** Keys each component may carry (a typo would be ignored by Home Assistant, so it fails here). */
const commonKeys = ["name", "unique_id", "availability", "device", "origin", "icon", "entity_category"];
const allowedKeys: Record<string, string[]> = {
  sensor: [
    ...commonKeys,
    "state_topic",
    "value_template",
    "device_class",
    "unit_of_measurement",
    "state_class",
    "suggested_display_precision",
    "options",
    "json_attributes_topic",
  ],
  binary_sensor: [...commonKeys, "state_topic", "value_template", "payload_on", "payload_off", "device_class"],
  button: [...commonKeys, "command_topic", "payload_press"],
  text: [...commonKeys, "command_topic", "min", "max", "mode"],
};
const requiredKeys: Record<string, string[]> = {
  sensor: ["state_topic"],
  binary_sensor: ["state_topic"],
  button: ["command_topic"],
  text: ["command_topic"],
};

function render(template: string, valueJson: unknown): string {
  return new Template(template).render({ value_json: valueJson });
}

/** The retained messages under `filter` now: every retained one arrives before this run's own probe. */
async function retained(url: string, filter: string): Promise<Map<string, string>> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 5 });
  const probe = `probe/${randomUUID()}`;
  const found = new Map<string, string>();
  try {
    const done = new Promise<void>((resolve) => {
      client.on("message", (topic, payload, packet) => {
        if (topic === probe) resolve();
        else if (packet.retain && payload.length > 0) found.set(topic, payload.toString("utf8"));
      });
    });
    await client.subscribeAsync([filter, probe], { qos: 1 });
    await client.publishAsync(probe, "probe", { qos: 1 });
    await done;
    return found;
  } finally {
    await client.endAsync(true);
  }
}

function daemonFor(broker: MosquittoBroker, state: string, extra: string[]): DaemonProcess {
  return new DaemonProcess(
    [
      "--model.path",
      testModelPath(),
      "--model.contextSize",
      "256",
      "--http.port",
      "0",
      "--mqtt.url",
      broker.url,
      "--mqtt.nodeId",
      node,
      "--limits.defaultMaxTokens",
      "16",
      "--mqtt.statusIntervalMs",
      "1000",
      "--state.directory",
      state,
      ...extra,
    ],
    { TINYLLAMAD_HTTP_TOKEN: wsToken, TINYLLAMAD_ADMIN_TOKEN: adminToken },
  );
}

describe("Home Assistant MQTT discovery on Mosquitto", () => {
  const broker = new MosquittoBroker();
  const state = mkdtempSync(join(tmpdir(), "tinyllamad-ha-state-"));
  let watcher: MqttProbeClient;
  /** Everything published under the discovery prefix and the node's tree, in order. */
  const seen: { topic: string; payload: string }[] = [];
  let firstAnnouncement = new Map<string, string>();

  before(async () => {
    await broker.start();
    watcher = await MqttProbeClient.connect(broker.url);
    watcher.client.on("message", (topic, payload) => seen.push({ topic, payload: payload.toString("utf8") }));
    await watcher.subscribe([`${prefix}/#`, `${base}/#`, "replies/#"]);
  });

  after(async () => {
    await watcher?.end();
    await broker.dispose();
    rmSync(state, { recursive: true, force: true });
  });

  it("announces one device whose entities read the status, with a working reload button and ask entity", async () => {
    const daemon = daemonFor(broker, state, ["--homeassistant.ask", "true"]);
    const wsUrl = await daemon.start();
    const httpPort = new URL(wsUrl).port;
    try {
      // One request, so the counters and the rate have values to check.
      await watcher.publish(`${base}/${node}/request`, {
        type: "generate",
        id: "warm-1",
        prompt: "Hello",
        max_tokens: 8,
        reply_to: "replies/warm",
      });
      assert.equal((await watcher.final("warm-1")).type, "done");
      await watcher.waitFor(
        () =>
          seen.some(
            (m) =>
              m.topic === statusTopic &&
              (JSON.parse(m.payload) as Payload & { requests?: { completed: number } }).requests?.completed === 1,
          ),
        30_000,
        "a status counting the request",
      );

      const discovery = await retained(broker.url, `${prefix}/#`);
      firstAnnouncement = discovery;
      const status = JSON.parse((await retained(broker.url, statusTopic)).get(statusTopic) ?? "{}") as Payload;
      assert.equal(status.state, "online");
      const objects = [...discovery.keys()].map((topic) => topic.split("/")[3]).sort();
      assert.deepEqual(objects, [
        "answer",
        "ask",
        "backend",
        "model",
        "queue_depth",
        "reload",
        "requests_completed",
        "requests_failed",
        "state",
        "temperature",
        "throttled",
        "tokens_per_second",
      ]);

      const uniqueIds = new Set<string>();
      const expected: Record<string, unknown> = {
        state: status.state,
        tokens_per_second: status.tokens_per_s,
        queue_depth: (status.queue as Payload).queued,
        requests_completed: (status.requests as Payload).completed,
        requests_failed: (status.requests as Payload).failed,
        temperature: status.temperature_celsius,
        throttled: status.throttled === true ? "ON" : "OFF",
        model: status.model,
        backend: status.backend,
      };
      assert.equal(expected.requests_completed, 1);
      assert.equal(typeof expected.tokens_per_second, "number");
      assert.equal(expected.backend, "cpu");
      for (const [topic, text] of discovery) {
        const [, component, haNode, objectId, last] = topic.split("/") as [string, string, string, string, string];
        assert.equal(haNode, node);
        assert.equal(last, "config");
        assert.match(objectId, /^[a-zA-Z0-9_-]+$/);
        const payload = JSON.parse(text) as Payload;
        for (const key of requiredKeys[component] ?? assert.fail(`unexpected component ${component}`))
          assert.ok(key in payload, `${topic} lacks ${key}`);
        for (const key of Object.keys(payload))
          assert.ok(allowedKeys[component]?.includes(key), `${topic} has a key Home Assistant does not know: ${key}`);
        assert.equal(typeof payload.name, "string");
        assert.equal(typeof payload.unique_id, "string");
        assert.ok(!uniqueIds.has(payload.unique_id as string), `unique_id ${payload.unique_id} repeats`);
        uniqueIds.add(payload.unique_id as string);
        assert.deepEqual(payload.device, {
          identifiers: [`tinyllamad_${node}`],
          name: `tinyllamad ${node}`,
          manufacturer: "tinyllamad",
          model: "tinyllamad LLM node",
          sw_version: status.version,
          configuration_url: `http://127.0.0.1:${httpPort}/`,
        });
        assert.deepEqual(payload.origin, { name: "tinyllamad", sw_version: status.version });
        const availability = payload.availability as Payload[];
        assert.equal(availability.length, 1);
        const [entry] = availability as [Payload];
        assert.equal(entry.topic, statusTopic);
        assert.equal(render(entry.value_template as string, status), entry.payload_available);
        assert.equal(
          render(entry.value_template as string, { type: "status", state: "offline", node }),
          entry.payload_not_available,
        );
        if (payload.state_topic === statusTopic) {
          const rendered = render(payload.value_template as string, status);
          const value = expected[objectId];
          if (value === null || value === undefined) assert.equal(rendered, "None", `${objectId} renders ${rendered}`);
          else if (typeof value === "number") assert.equal(Number(rendered), value, `${objectId} renders ${rendered}`);
          else assert.equal(rendered, value, `${objectId} renders ${rendered}`);
          if (objectId !== "state")
            assert.equal(render(payload.value_template as string, { type: "status", state: "offline", node }), "None");
        }
      }
      assert.equal(uniqueIds.size, 12);

      // The reload button reloads as SIGHUP does.
      const reload = JSON.parse(discovery.get(`${prefix}/button/${node}/reload/config`) ?? "{}") as Payload;
      const reloaded = daemon.waitForLog((line) => line.msg === "configuration reloaded");
      await watcher.publish(reload.command_topic as string, reload.payload_press as string, { qos: 0 });
      await reloaded;

      // The ask entity: the text goes to the model, the answer comes back on the Answer sensor.
      const ask = JSON.parse(discovery.get(`${prefix}/text/${node}/ask/config`) ?? "{}") as Payload;
      const answer = JSON.parse(discovery.get(`${prefix}/sensor/${node}/answer/config`) ?? "{}") as Payload;
      assert.equal(ask.max, 255);
      await watcher.publish(ask.command_topic as string, prompt, { qos: 0 });
      await watcher.waitFor(() => seen.some((m) => m.topic === answer.state_topic), 60_000, "the answer");
      const reply = JSON.parse(seen.find((m) => m.topic === answer.state_topic)?.payload ?? "{}") as Payload;
      assert.equal(reply.error, null);
      assert.equal(typeof reply.text, "string");
      assert.equal(render(answer.value_template as string, reply), reply.state);
      assert.ok((reply.state as string).length > 0 && (reply.state as string).length <= 255);
    } finally {
      assert.equal((await daemon.stop()).code, 0);
    }
    // Stopped: the status says offline, and every entity's availability with it.
    const offline = JSON.parse((await retained(broker.url, statusTopic)).get(statusTopic) ?? "{}") as Payload;
    const sample = JSON.parse([...firstAnnouncement.values()][0] ?? "{}") as { availability: Payload[] };
    assert.equal(render(sample.availability[0]?.value_template as string, offline), "offline");
  });

  it("clears the ask entities when ask is turned off, and keeps the rest", async () => {
    const daemon = daemonFor(broker, state, []);
    await daemon.start();
    try {
      const cleared = (objectId: string, component: string) =>
        seen.some((m) => m.topic === `${prefix}/${component}/${node}/${objectId}/config` && m.payload === "");
      await watcher.waitFor(
        () => cleared("ask", "text") && cleared("answer", "sensor"),
        30_000,
        "ask entities cleared",
      );
      const discovery = await retained(broker.url, `${prefix}/#`);
      assert.equal(discovery.size, 10);
      assert.ok(![...discovery.keys()].some((topic) => topic.includes("/ask/") || topic.includes("/answer/")));
    } finally {
      assert.equal((await daemon.stop()).code, 0);
    }
  });

  it("removes every discovery message when homeassistant.enabled is off", async () => {
    const before = await retained(broker.url, `${prefix}/#`);
    assert.equal(before.size, 10);
    const daemon = daemonFor(broker, state, ["--homeassistant.enabled", "false"]);
    await daemon.start();
    try {
      await watcher.waitFor(
        () => [...before.keys()].every((topic) => seen.some((m) => m.topic === topic && m.payload === "")),
        30_000,
        "every discovery topic cleared",
      );
      assert.equal((await retained(broker.url, `${prefix}/#`)).size, 0);
    } finally {
      assert.equal((await daemon.stop()).code, 0);
    }
  });

  it("`tinyllamad homeassistant remove` decommissions a node that is gone", async () => {
    // A board that died with its discovery messages still retained.
    for (const [topic, payload] of firstAnnouncement) await watcher.publish(topic, payload, { retain: true });
    assert.equal((await retained(broker.url, `${prefix}/#`)).size, 12);
    const { stdout } = await promisify(execFile)(process.execPath, [
      cliPath,
      "homeassistant",
      "remove",
      "--mqtt.url",
      broker.url,
      "--mqtt.nodeId",
      node,
    ]);
    assert.match(stdout, /12 discovery topics cleared/);
    assert.equal((await retained(broker.url, `${prefix}/#`)).size, 0);
  });

  it("never puts a token or a prompt on the broker", () => {
    const everything = seen.map((m) => `${m.topic} ${m.payload}`).join("\n");
    assert.ok(seen.length > 0);
    assert.ok(!everything.includes(wsToken));
    assert.ok(!everything.includes(adminToken));
    // The prompt went to the ask topic (the test published it); nothing the node sent repeats it.
    const fromNode = seen.filter((m) => !m.topic.endsWith("/homeassistant/ask"));
    assert.ok(!fromNode.some((m) => m.payload.includes(prompt)));
  });
});
