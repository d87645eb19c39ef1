/**
 * Hostile input over MQTT (issue 15): every class of bad message gets an E_ answer on its reply
 * route, cancels reach only the sender's own requests, reply topics into the daemons' own tree are
 * refused and never published to, and the daemon goes on serving. Against a real Mosquitto (MQTT 5)
 * and the embedded broker (MQTT 3.1.1, reply_to), with real MQTT.js clients.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import mqtt, { type IClientPublishOptions } from "mqtt";
import { DaemonProcess } from "../../harness/DaemonProcess.js";
import { MosquittoBroker } from "../../harness/MosquittoBroker.js";
import { MqttProbeClient, type ReceivedMessage } from "../../harness/MqttProbeClient.js";
import { mqttNodeFlags } from "../support/mqttNodeFlags.js";

const base = "tinyllamad";
/** Names that crash a field check that indexes a plain object (today's parser throws TypeError). */
const throwingPrototypeNames = [
  "__proto__",
  "valueOf",
  "hasOwnProperty",
  "propertyIsEnumerable",
  "toLocaleString",
  "__defineGetter__",
  "__lookupGetter__",
];
/** Names today's parser silently accepts although unknown fields are refused. */
const acceptedPrototypeNames = ["constructor", "toString", "isPrototypeOf"];
/** A refusal of a crashing frame is E_BAD_REQUEST once the schema parser lands; E_INTERNAL (the guard) before. */

/** Room for answers long enough to still be running when a cancel arrives (the tiny model is fast). */
const longAnswers = ["--model.contextSize", "2048"];
const longRun = 2000;

/** `{"stop": [[[…"x"…]]]}`: a wrong-typed field nested `depth` levels deep. */
function deeplyNested(id: string, depth: number, extra = ""): string {
  return `{"type":"generate","id":"${id}","prompt":"x","stop":${"[".repeat(depth)}1${"]".repeat(depth)}${extra}}`;
}

function errorCode(received: ReceivedMessage | undefined): string | undefined {
  return received?.message.type === "error" ? received.message.error.code : undefined;
}

/** Publishes, then resolves with the first error that arrives on `topic` after it. */
async function refusalOn(
  client: MqttProbeClient,
  topic: string,
  send: () => Promise<void>,
  what: string,
): Promise<ReceivedMessage> {
  const since = client.received.length;
  const match = (r: ReceivedMessage) => r.topic === topic && r.message.type === "error";
  await send();
  await client.waitFor(() => client.received.slice(since).some(match), 15_000, `an error on ${topic} (${what})`);
  return client.received.slice(since).find(match)!;
}

async function stillServes(client: MqttProbeClient, requestTopic: string, id: string, route: object): Promise<void> {
  await client.publish(requestTopic, { type: "generate", id, prompt: "ok?", max_tokens: 3, temperature: 0, ...route });
  assert.equal((await client.final(id, 30_000)).type, "done");
}

describe("hostile input over MQTT 5 (Mosquitto)", () => {
  const node = "hostile";
  const requestTopic = `${base}/${node}/request`;
  const cancelTopic = `${base}/${node}/cancel`;
  const defaultRoute = (id: string) => `${base}/${node}/response/${id}`;
  const forbiddenTopics = [
    `${base}/${node}/request`,
    `${base}/${node}/cancel`,
    `${base}/${node}/status`,
    `${base}/fleet/request`,
    `${base}/other-node/request`,
    `${base}/other-node/cancel`,
    `${base}/${node}/response/someone-elses-id`,
    base,
  ];
  const broker = new MosquittoBroker();
  const state = mkdtempSync(join(tmpdir(), "tinyllamad-hostile-"));
  let daemon: DaemonProcess;
  let client: MqttProbeClient;
  /** Sees everything published in the daemons' tree. */
  let watcher: MqttProbeClient;
  let seq = 0;
  const routeFor = (name: string) => {
    seq += 1;
    return { topic: `hostile-replies/${name}-${seq}`, correlation: Buffer.from(`corr-${seq}`) };
  };
  /** Publishes `payload` with a fresh response topic and returns the error answered there. */
  const refusalOf = async (name: string, payload: string | Buffer, topic = requestTopic) => {
    const route = routeFor(name);
    const options: IClientPublishOptions = {
      properties: { responseTopic: route.topic, correlationData: route.correlation },
    };
    const answer = await refusalOn(client, route.topic, () => client.publish(topic, payload, options), name);
    assert.equal(answer.correlationData, route.correlation.toString(), "the refusal carries the correlation data");
    return answer;
  };

  before(async () => {
    await broker.start();
    daemon = new DaemonProcess(
      mqttNodeFlags({ brokerUrl: broker.url, nodeId: node, stateDirectory: state, extra: longAnswers }),
      {
        TINYLLAMAD_ADMIN_TOKEN: "hostile-admin",
      },
    );
    await daemon.start();
    client = await MqttProbeClient.connect(broker.url);
    await client.subscribe(["hostile-replies/#", `${base}/${node}/response/#`]);
    watcher = await MqttProbeClient.connect(broker.url);
    await watcher.subscribe([base, `${base}/#`]);
  });

  after(async () => {
    await client?.end();
    await watcher?.end();
    if (daemon) assert.equal((await daemon.stop()).code, 0, "the daemon never exited on its own");
    await broker.dispose();
    rmSync(state, { recursive: true, force: true });
  });

  it("fields named after Object.prototype members (the 40-byte frames that once crashed the daemon): E_BAD_REQUEST", async () => {
    for (const name of [...throwingPrototypeNames, ...acceptedPrototypeNames]) {
      const generate = `{"type":"generate","id":"proto-${name}","prompt":"x","max_tokens":2,"${name}":1}`;
      const answer = await refusalOf(`proto-${name}`, generate);
      assert.equal(errorCode(answer), "E_BAD_REQUEST", `${name}: ${JSON.stringify(answer.message)}`);
      const cancel = `{"type":"cancel","id":"proto-c-${name}","${name}":1}`;
      assert.equal(errorCode(await refusalOf(`proto-c-${name}`, cancel)), "E_BAD_REQUEST", `cancel with ${name}`);
      const onCancelTopic = await refusalOf(`proto-ct-${name}`, `{"id":"x","${name}":1}`, cancelTopic);
      assert.equal(errorCode(onCancelTopic), "E_BAD_REQUEST", `cancel topic with ${name}`);
    }
    await stillServes(client, requestTopic, "after-proto", {});
  });

  it("a wrong-typed field nested 5,000 levels deep: an E_ answer", async () => {
    const answer = await refusalOf("deep", deeplyNested("deep", 5000));
    assert.equal(errorCode(answer), "E_BAD_REQUEST", JSON.stringify(answer.message).slice(0, 200));
    const onCancelTopic = await refusalOf("deep-c", `{"id":${"[".repeat(5000)}${"]".repeat(5000)}}`, cancelTopic);
    assert.equal(errorCode(onCancelTopic), "E_BAD_REQUEST");
    await stillServes(client, requestTopic, "after-deep", {});
  });

  it("plain text, binary and non-object JSON payloads: E_BAD_JSON / E_BAD_REQUEST", async () => {
    assert.equal(errorCode(await refusalOf("text", "hello, is anybody there?")), "E_BAD_JSON");
    assert.equal(errorCode(await refusalOf("binary", Buffer.from([0xff, 0xfe, 0x00, 0x81, 0xc3, 0x28]))), "E_BAD_JSON");
    assert.equal(errorCode(await refusalOf("array", "[1,2,3]")), "E_BAD_REQUEST");
    assert.equal(errorCode(await refusalOf("null", "null")), "E_BAD_REQUEST");
    assert.equal(errorCode(await refusalOf("text-cancel", "cancel it please", cancelTopic)), "E_BAD_JSON");
    assert.equal(errorCode(await refusalOf("empty", "")), "E_BAD_JSON");
    await stillServes(client, requestTopic, "after-text", {});
  });

  it("unknown fields, wrong types and unknown types get their own codes", async () => {
    const unknown = await refusalOf("unknown", '{"type":"generate","id":"u1","prompt":"x","colour":"red"}');
    assert.equal(errorCode(unknown), "E_BAD_REQUEST");
    assert.equal(unknown.message.id, "u1");
    assert.equal(errorCode(await refusalOf("wrong", '{"type":"generate","id":"w1","prompt":7}')), "E_BAD_REQUEST");
    assert.equal(errorCode(await refusalOf("type", '{"type":"dance","id":"t1"}')), "E_UNKNOWN_TYPE");
    assert.equal(errorCode(await refusalOf("admin", '{"type":"admin","id":"a1","token":"x"}')), "E_BAD_REQUEST");
    assert.equal(
      errorCode(await refusalOf("admin-token", '{"type":"admin","id":"a2","token":"nope","action":"status"}')),
      "E_UNAUTHORIZED",
    );
  });

  it("a refusal without a response topic goes to reply_to, else to the node's response topic for the id", async () => {
    const toReplyTo = await refusalOn(
      client,
      "hostile-replies/rt",
      () => client.publish(requestTopic, '{"type":"generate","id":"rt1","prompt":5,"reply_to":"hostile-replies/rt"}'),
      "reply_to",
    );
    assert.equal(errorCode(toReplyTo), "E_BAD_REQUEST");
    const toDefault = await refusalOn(
      client,
      defaultRoute("d1"),
      () => client.publish(requestTopic, '{"type":"generate","id":"d1","prompt":"x","valueOf":1}'),
      "default route",
    );
    assert.equal(errorCode(toDefault), "E_BAD_REQUEST");
  });

  it("cancel of an unknown id: E_NOT_FOUND, on the cancel topic and as a cancel message", async () => {
    assert.equal(errorCode(await refusalOf("nf", '{"id":"never-sent"}', cancelTopic)), "E_NOT_FOUND");
    assert.equal(errorCode(await refusalOf("nf2", '{"type":"cancel","id":"never-sent"}')), "E_NOT_FOUND");
    const toDefault = await refusalOn(
      client,
      defaultRoute("never-sent-2"),
      () => client.publish(cancelTopic, { id: "never-sent-2" }),
      "E_NOT_FOUND on the default route",
    );
    assert.equal(errorCode(toDefault), "E_NOT_FOUND");
  });

  it("a client cannot cancel another client's request (E_NOT_FOUND); its owner can", async () => {
    const owner = { responseTopic: "hostile-replies/owner" };
    await client.publish(
      requestTopic,
      { type: "generate", id: "victim", prompt: "Count", max_tokens: longRun, temperature: 0 },
      { properties: owner },
    );
    await client.waitFor(() => client.tokens("victim").length >= 2, 30_000, "tokens of 'victim'");
    const intruder = await MqttProbeClient.connect(broker.url);
    try {
      await intruder.subscribe(["intruder/#", `${base}/${node}/response/#`]);
      for (const [topic, payload, responseTopic] of [
        [cancelTopic, { id: "victim" }, "intruder/a"],
        [requestTopic, { type: "cancel", id: "victim" }, "intruder/b"],
      ] as const) {
        const answer = await refusalOn(
          intruder,
          responseTopic,
          () => intruder.publish(topic, payload, { properties: { responseTopic } }),
          `a foreign cancel via ${topic}`,
        );
        assert.equal(errorCode(answer), "E_NOT_FOUND");
        assert.ok(!JSON.stringify(answer.message).includes("owner"), "nothing about the owner is revealed");
      }
      const withoutRoute = await refusalOn(
        intruder,
        defaultRoute("victim"),
        () => intruder.publish(cancelTopic, { id: "victim" }),
        "a foreign cancel without a reply topic",
      );
      assert.equal(errorCode(withoutRoute), "E_NOT_FOUND");
    } finally {
      await intruder.end();
    }
    const ownerFinals = () => client.finals("victim").filter((r) => r.topic === owner.responseTopic);
    assert.equal(ownerFinals().length, 0, `the request still runs: ${JSON.stringify(ownerFinals()[0]?.message)}`);
    await client.publish(cancelTopic, { id: "victim" }, { properties: owner });
    await client.waitFor(() => ownerFinals().length > 0, 30_000, "the owner's cancel");
    const final = ownerFinals()[0]!.message;
    assert.equal(final.type === "done" && final.finish_reason, "cancelled");
  });

  it("a second request with an id still in flight from the same client: E_DUPLICATE_ID", async () => {
    const route = { properties: { responseTopic: "hostile-replies/dup" } };
    await client.publish(
      requestTopic,
      { type: "generate", id: "dup", prompt: "Count", max_tokens: longRun, temperature: 0 },
      route,
    );
    await client.waitFor(() => client.tokens("dup").length >= 1, 30_000, "tokens of 'dup'");
    const answer = await refusalOn(
      client,
      "hostile-replies/dup",
      () => client.publish(requestTopic, { type: "generate", id: "dup", prompt: "Other", max_tokens: 2 }, route),
      "duplicate",
    );
    assert.equal(errorCode(answer), "E_DUPLICATE_ID");
    await client.publish(cancelTopic, { id: "dup" }, route);
    await client.waitFor(() => client.finals("dup").some((r) => r.message.type === "done"), 30_000, "dup cancelled");
  });

  it("reply_to and response topics into the daemons' own topics are refused with E_BAD_TOPIC", async () => {
    for (const [index, forbidden] of forbiddenTopics.entries()) {
      const id = `bt-${index}`;
      const viaReplyTo = await refusalOn(
        client,
        defaultRoute(id),
        () => client.publish(requestTopic, { type: "generate", id, prompt: "x", max_tokens: 2, reply_to: forbidden }),
        `reply_to ${forbidden}`,
      );
      assert.equal(errorCode(viaReplyTo), "E_BAD_TOPIC", forbidden);
      const id5 = `bt5-${index}`;
      const viaResponseTopic = await refusalOn(
        client,
        defaultRoute(id5),
        () =>
          client.publish(
            requestTopic,
            { type: "generate", id: id5, prompt: "x", max_tokens: 2 },
            { properties: { responseTopic: forbidden } },
          ),
        `response topic ${forbidden}`,
      );
      assert.equal(errorCode(viaResponseTopic), "E_BAD_TOPIC", forbidden);
      const viaCancel = await refusalOn(
        client,
        defaultRoute(`c-${id}`),
        () => client.publish(cancelTopic, { id: `c-${id}`, reply_to: forbidden }),
        `cancel reply_to ${forbidden}`,
      );
      assert.equal(errorCode(viaCancel), "E_BAD_TOPIC", forbidden);
    }
    const fallback = await refusalOn(
      client,
      "hostile-replies/fallback",
      () =>
        client.publish(
          requestTopic,
          { type: "generate", id: "bt-fb", prompt: "x", reply_to: "hostile-replies/fallback" },
          { properties: { responseTopic: `${base}/${node}/request` } },
        ),
      "a bad response topic falls back to reply_to for its refusal",
    );
    assert.equal(errorCode(fallback), "E_BAD_TOPIC");
  });

  it("after all that: a valid request is answered, and the daemon never published into its own topics", async () => {
    await stillServes(client, requestTopic, "finally", { reply_to: "hostile-replies/finally" });
    assert.ok(isAlive(daemon), "the daemon process is still running");
    const answerTypes = new Set(["token", "done", "error", "admin_result"]);
    const misplaced = watcher.received.filter(
      (r) => answerTypes.has(String(r.message?.type)) && !r.topic.startsWith(`${base}/${node}/response/`),
    );
    assert.deepEqual(
      misplaced.map((r) => `${r.topic}: ${r.message.type}`),
      [],
      "no answer was ever published in the daemons' tree outside the node's response topics",
    );
    assert.ok(
      watcher.received.some((r) => r.topic === `${base}/${node}/request`),
      "the watcher did see the hostile requests",
    );
  });
});

describe("hostile input over MQTT 3.1.1 (the embedded broker, reply_to)", () => {
  const node = "hostile-emb";
  const requestTopic = `${base}/${node}/request`;
  const cancelTopic = `${base}/${node}/cancel`;
  const state = mkdtempSync(join(tmpdir(), "tinyllamad-hostile-emb-"));
  const daemon = new DaemonProcess(
    mqttNodeFlags({ nodeId: node, stateDirectory: state, extra: [...longAnswers, "--mqtt.embeddedPort", "0"] }),
  );
  let client: MqttProbeClient;

  before(async () => {
    await daemon.start();
    client = await MqttProbeClient.connect(daemon.mqttUrl!, { protocolVersion: 4 });
    await client.subscribe(["emb/#", `${base}/${node}/response/#`]);
  });

  after(async () => {
    await client?.end();
    assert.equal((await daemon.stop()).code, 0, "the daemon never exited on its own");
    rmSync(state, { recursive: true, force: true });
  });

  it("prototype names, deep nesting, unknown types and bad topics are answered on reply_to or the default route", async () => {
    for (const name of throwingPrototypeNames) {
      const answer = await refusalOn(
        client,
        `emb/${name}`,
        () =>
          client.publish(
            requestTopic,
            `{"type":"generate","id":"e-${name}","prompt":"x","reply_to":"emb/${name}","${name}":1}`,
          ),
        name,
      );
      assert.equal(errorCode(answer), "E_BAD_REQUEST", name);
    }
    const deep = await refusalOn(
      client,
      "emb/deep",
      () => client.publish(requestTopic, deeplyNested("e-deep", 5000, ',"reply_to":"emb/deep"')),
      "deep",
    );
    assert.equal(errorCode(deep), "E_BAD_REQUEST");
    const type = await refusalOn(
      client,
      "emb/type",
      () => client.publish(requestTopic, { type: "dance", id: "e-t", reply_to: "emb/type" }),
      "type",
    );
    assert.equal(errorCode(type), "E_UNKNOWN_TYPE");
    const ownTopic = await refusalOn(
      client,
      `${base}/${node}/response/e-own`,
      () => client.publish(requestTopic, { type: "generate", id: "e-own", prompt: "x", reply_to: requestTopic }),
      "own request topic",
    );
    assert.equal(errorCode(ownTopic), "E_BAD_TOPIC");
    await client.publish(requestTopic, "plain text, no route at all");
    await client.publish(requestTopic, Buffer.from([0, 1, 2, 0xff]));
    await daemon.waitForLog((l) => l.msg === "dropping a bad request: no reply topic can be trusted", 10_000);
    await stillServes(client, requestTopic, "e-after", { reply_to: "emb/after" });
  });

  it("a cancel reaches only the request with the same reply_to", async () => {
    await client.publish(requestTopic, {
      type: "generate",
      id: "e-victim",
      prompt: "Count",
      max_tokens: longRun,
      temperature: 0,
      reply_to: "emb/owner",
    });
    await client.waitFor(() => client.tokens("e-victim").length >= 2, 30_000, "tokens of 'e-victim'");
    const foreign = await refusalOn(
      client,
      "emb/intruder",
      () => client.publish(cancelTopic, { id: "e-victim", reply_to: "emb/intruder" }),
      "foreign cancel",
    );
    assert.equal(errorCode(foreign), "E_NOT_FOUND");
    const ownerFinals = () => client.finals("e-victim").filter((r) => r.topic === "emb/owner");
    assert.equal(ownerFinals().length, 0, `the request still runs: ${JSON.stringify(ownerFinals()[0]?.message)}`);
    // The owner may cancel on the request topic too: a cancel message carrying its reply_to.
    await client.publish(requestTopic, { type: "cancel", id: "e-victim", reply_to: "emb/owner" });
    await client.waitFor(() => ownerFinals().length > 0, 30_000, "the owner's cancel");
    const final = ownerFinals()[0]!.message;
    assert.equal(final.type === "done" && final.finish_reason, "cancelled");
  });

  it("no other client may publish the node's status or answers (the broker disconnects it)", async () => {
    const statusTopic = `${base}/${node}/status`;
    for (const forged of [statusTopic, `${base}/${node}/response/e-forged`]) {
      const forger = await mqtt.connectAsync(daemon.mqttUrl!, { protocolVersion: 4, reconnectPeriod: 0 });
      const closed = new Promise<void>((resolve) => forger.once("close", () => resolve()));
      forger.publish(forged, JSON.stringify({ type: "status", state: "offline", node }), { qos: 1, retain: true });
      await closed;
      forger.end(true);
    }
    const reader = await MqttProbeClient.connect(daemon.mqttUrl!, { protocolVersion: 4 });
    await reader.subscribe(statusTopic);
    await reader.waitFor(() => reader.received.length > 0, 15_000, "the retained status");
    const status = reader.received[0]!.message as unknown as { state: string };
    assert.equal(status.state, "online", "the node's own retained status stands");
    await reader.end();
    await stillServes(client, requestTopic, "e-after-forgery", { reply_to: "emb/forgery" });
  });

  it("no one else may take the node's own client id (its session and requests)", async () => {
    await assert.rejects(
      MqttProbeClient.connect(daemon.mqttUrl!, {
        protocolVersion: 4,
        clientId: `tinyllamad_${node}`,
        reconnectPeriod: 0,
      }),
    );
    await stillServes(client, requestTopic, "e-after-takeover", { reply_to: "emb/takeover" });
  });
});

function isAlive(daemon: DaemonProcess): boolean {
  const pid = daemon.pid;
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
