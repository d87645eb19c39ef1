/**
 * On first start without its model, a node with MQTT shows the pull and the load on its retained
 * status topic (a real Mosquitto; the model from a local HTTP mirror that answers slowly), refuses
 * requests with E_NOT_READY while it pulls, and serves once it says it is online.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { NodeStatusMessage, StatusTopicMessage } from "../../daemon/protocol/messages.js";
import { makeTestModel } from "../../devtools/testModel/makeTestModel.js";
import { DaemonProcess } from "../../harness/DaemonProcess.js";
import { freePort } from "../../harness/freePort.js";
import { MosquittoBroker } from "../../harness/MosquittoBroker.js";
import { MqttProbeClient } from "../../harness/MqttProbeClient.js";
import { ProtocolClient } from "../../harness/ProtocolClient.js";
import { type ModelFileServer, startModelFileServer } from "../store/modelFileServer.js";
import { writeTestModelCatalog } from "../support/testModelCatalog.js";
import { testModelPath } from "../support/testModels.js";

const node = "pulling-board";
const base = "tinyllamad";
const requestTopic = `${base}/${node}/request`;
const defaultFile = "tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf";

interface SeenStatus {
  message: StatusTopicMessage;
  retain: boolean;
}

function pullingDaemon(
  mirrorUrl: string,
  broker: MosquittoBroker,
  scratch: string,
  nodeId = node,
  wsPort = 0,
): DaemonProcess {
  return new DaemonProcess(
    [
      "--model.mirrorUrl",
      mirrorUrl,
      // The default model is the test model with its real sha256: the pull is verified as on a board.
      "--model.catalog",
      writeTestModelCatalog(scratch, defaultFile),
      "--model.contextSize",
      "256",
      "--http.port",
      String(wsPort),
      "--mqtt.url",
      broker.url,
      "--mqtt.nodeId",
      nodeId,
      "--state.directory",
      join(scratch, "state"),
    ],
    { XDG_DATA_HOME: join(scratch, "home"), TINYLLAMAD_ADMIN_TOKEN: "swap-token-9" },
  );
}

/** Collects the status messages of `nodeId`, each with its retain flag (Retain As Published). */
async function watchStatus(client: MqttProbeClient, nodeId: string): Promise<SeenStatus[]> {
  const seen: SeenStatus[] = [];
  const topic = `${base}/${nodeId}/status`;
  client.client.on("message", (from, payload, packet) => {
    if (from === topic)
      seen.push({ message: JSON.parse(payload.toString()) as StatusTopicMessage, retain: packet.retain });
  });
  await client.client.subscribeAsync(topic, { qos: 1, rap: true });
  return seen;
}

function connected(seen: SeenStatus[]): Array<SeenStatus & { message: NodeStatusMessage }> {
  return seen.filter((s): s is SeenStatus & { message: NodeStatusMessage } => s.message.state !== "offline");
}

describe("model pull progress on the MQTT status topic", () => {
  const broker = new MosquittoBroker();
  const scratch = mkdtempSync(join(tmpdir(), "tinyllamad-pull-status-"));
  const body = readFileSync(testModelPath());
  let statuses: SeenStatus[] = [];
  let mirror: ModelFileServer;
  let watcher: MqttProbeClient;
  let daemon: DaemonProcess;
  let serving: Promise<string>;
  let wsPort = 0;

  before(async () => {
    wsPort = await freePort();
    await broker.start();
    // ~20 slices a fifth of a second apart: the download lasts a few seconds however fast the machine.
    mirror = await startModelFileServer({
      fileName: defaultFile,
      body,
      throttle: { chunkBytes: Math.ceil(body.length / 20), delayMs: 200 },
    });
    watcher = await MqttProbeClient.connect(broker.url);
    statuses = await watchStatus(watcher, node);
    await watcher.subscribe("replies/#");
    daemon = pullingDaemon(mirror.baseUrl, broker, scratch, node, wsPort);
    serving = daemon.start(120_000);
    serving.catch(() => undefined); // awaited by the tests; a failure is reported there
  });

  after(async () => {
    await watcher?.end();
    if (daemon) assert.equal((await daemon.stop()).code, 0);
    await mirror?.close();
    await broker.dispose();
    rmSync(scratch, { recursive: true, force: true });
  });

  const live = () => connected(statuses);

  it("refuses a request with E_NOT_READY while the model is pulled, answering it exactly once", async () => {
    await watcher.waitFor(() => live().some((s) => s.message.state === "pulling"), 60_000, "a pulling status");
    await watcher.publish(
      requestTopic,
      { type: "generate", id: "early", prompt: "Hi", max_tokens: 3 },
      { properties: { responseTopic: "replies/early" } },
    );
    const final = await watcher.final("early");
    assert.equal(final.type === "error" && final.error.code, "E_NOT_READY", JSON.stringify(final));
    assert.match(final.type === "error" ? final.error.message : "", /pulling tinyllama-1\.1b-chat-v1\.0\.Q4_K_M\.gguf/);

    // The WebSocket API and the health endpoints are up during the pull too.
    const ready = await fetch(`http://127.0.0.1:${wsPort}/readyz`);
    assert.equal(ready.status, 503);
    assert.equal(((await ready.json()) as { state: string }).state, "pulling");
    const client = await ProtocolClient.connect(`ws://127.0.0.1:${wsPort}/`);
    const answer = await client.request({ id: "early-ws", prompt: "Hi", max_tokens: 3 });
    await client.close();
    assert.equal(answer.final.type === "error" && answer.final.error.code, "E_NOT_READY", JSON.stringify(answer.final));
    assert.equal(answer.all.length, 1, "one final answer and nothing else");

    await serving;
    await watcher.waitFor(() => live().some((s) => s.message.state === "online"), 30_000, "an online status");
    assert.equal(watcher.finals("early").length, 1);
  });

  it("publishes retained progress with growing bytes, then loading, then online with the model ready", async () => {
    await serving;
    await watcher.waitFor(() => live().some((s) => s.message.state === "online"), 30_000, "an online status");
    const seen = live();
    assert.ok(
      seen.every((s) => s.retain),
      "every status is retained",
    );
    assert.ok(
      seen.every((s) => s.message.type === "status" && s.message.node === node),
      "typed status messages of this node",
    );

    const downloading = seen.filter((s) => s.message.model_progress?.phase === "downloading");
    assert.ok(downloading.length >= 2, `several progress messages, got ${downloading.length}`);
    assert.ok(downloading.every((s) => s.message.state === "pulling" && s.message.model === null));
    const bytes = downloading.map((s) => s.message.model_progress?.bytes ?? -1);
    for (let i = 1; i < bytes.length; i++)
      assert.ok((bytes[i] as number) > (bytes[i - 1] as number), `bytes grow: ${bytes.join(", ")}`);
    for (const { message } of downloading) {
      assert.equal(message.model_progress?.model, defaultFile);
      assert.equal(message.model_progress?.total_bytes, body.length);
      const percent = message.model_progress?.percent ?? -1;
      assert.equal(percent, Math.floor(((message.model_progress?.bytes ?? 0) / body.length) * 100));
    }

    const lastPulling = seen.findLastIndex((s) => s.message.state === "pulling");
    const firstLoading = seen.findIndex((s) => s.message.state === "loading");
    const firstOnline = seen.findIndex((s) => s.message.state === "online");
    assert.ok(lastPulling < firstLoading && firstLoading < firstOnline, "pulling, then loading, then online");
    assert.equal(seen[firstLoading]?.message.model_progress?.phase, "loading");
    const ready = seen[firstOnline]?.message;
    assert.equal(ready?.model, defaultFile);
    assert.equal(ready?.backend, "cpu");
    assert.deepEqual(ready?.model_progress, {
      phase: "ready",
      model: defaultFile,
      bytes: null,
      total_bytes: null,
      percent: 100,
      bytes_per_s: null,
    });
    assert.equal(statSync(join(scratch, "home", "tinyllamad", "models", defaultFile)).size, body.length);
  });

  it("then serves a request, and /readyz reports the model ready", async () => {
    const ws = await serving;
    await watcher.publish(
      requestTopic,
      { type: "generate", id: "after", prompt: "Hello", max_tokens: 4, temperature: 0 },
      { properties: { responseTopic: "replies/after" } },
    );
    const final = await watcher.final("after");
    assert.equal(final.type, "done", JSON.stringify(final));
    assert.equal(watcher.finals("after").length, 1);
    const ready = (await (await fetch(`${ws.replace("ws://", "http://")}readyz`)).json()) as {
      status: string;
      model_progress: { phase: string; model: string };
    };
    assert.equal(ready.status, "ready");
    assert.deepEqual([ready.model_progress.phase, ready.model_progress.model], ["ready", defaultFile]);
  });

  it("shows a hot swap's load on the status while it keeps serving, and a failed swap's reason", async () => {
    await serving;
    // swap_model takes only models in the store (or admin.modelDirectories).
    const store = join(scratch, "home", "tinyllamad", "models");
    const second = makeTestModel({ shape: "tiny", quant: "q8_0", seed: 2, out: join(store, "second.gguf") }).path;
    const before = statuses.length;
    const swap = async (id: string, modelPath: string) => {
      await watcher.publish(
        requestTopic,
        { type: "admin", id, token: "swap-token-9", action: "swap_model", model_path: modelPath },
        { properties: { responseTopic: `replies/${id}` } },
      );
      await watcher.waitFor(() => watcher.received.some((r) => r.message.id === id), 60_000, `the answer to ${id}`);
      return watcher.received.find((r) => r.message.id === id)?.message;
    };
    assert.equal((await swap("swap1", second))?.type, "admin_result");
    await watcher.waitFor(
      () => live().some((s) => s.message.model_progress?.phase === "ready" && s.message.model === "second.gguf"),
      10_000,
      "a status with the swapped model ready",
    );
    const loading = live()
      .slice(before)
      .find((s) => s.message.model_progress?.phase === "loading");
    assert.equal(loading?.message.model_progress?.model, "second.gguf");
    assert.equal(loading?.message.state, "online", "the old model keeps serving while the new one loads");

    assert.equal((await swap("swap2", join(store, "missing.gguf")))?.type, "error");
    await watcher.waitFor(
      () => live().some((s) => s.message.model_progress?.phase === "failed"),
      10_000,
      "a status with the failed swap",
    );
    const failed = live().find((s) => s.message.model_progress?.phase === "failed")?.message;
    assert.equal(failed?.state, "online");
    assert.equal(failed?.model, "second.gguf", "the second model still serves");
    assert.equal(failed?.model_progress?.model, "missing.gguf");
    assert.equal(failed?.model_progress?.error?.code, "E_MODEL_MISSING");
  });
});

describe("a pull that ends before serving, seen on the MQTT status topic", () => {
  const broker = new MosquittoBroker();
  const scratch = mkdtempSync(join(tmpdir(), "tinyllamad-pull-end-"));
  let watcher: MqttProbeClient;

  before(async () => {
    await broker.start();
    watcher = await MqttProbeClient.connect(broker.url);
  });

  after(async () => {
    await watcher?.end();
    await broker.dispose();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("a pull that fails shows phase failed with the reason, then offline; start-up exits 78", async () => {
    const mirror = await startModelFileServer({ fileName: "not-the-model.gguf", body: Buffer.alloc(16) });
    const statuses = await watchStatus(watcher, "failing-board");
    const daemon = pullingDaemon(mirror.baseUrl, broker, join(scratch, "failing"), "failing-board");
    try {
      await assert.rejects(daemon.start(60_000));
      assert.equal((await daemon.exited()).code, 78);
      assert.match(daemon.stderr, /could not be pulled/);
      await watcher.waitFor(() => statuses.at(-1)?.message.state === "offline", 10_000, "offline");
      const failed = connected(statuses).find((s) => s.message.model_progress?.phase === "failed")?.message;
      assert.equal(failed?.model_progress?.model, defaultFile);
      assert.equal(failed?.model_progress?.error?.code, "E_MODEL_MISSING");
      assert.match(failed?.model_progress?.error?.message ?? "", /E_MODEL_NOT_FOUND_UPSTREAM/);
      assert.ok(
        connected(statuses).every((s) => s.message.state === "pulling"),
        "never loading, never online",
      );
    } finally {
      await mirror.close();
    }
  });

  it("SIGTERM during a pull stops it: exit 0, status offline, the partial download kept to resume", async () => {
    const body = readFileSync(testModelPath());
    // Slow enough that the pull is still running when the test stops the daemon.
    const mirror = await startModelFileServer({
      fileName: defaultFile,
      body,
      throttle: { chunkBytes: 64 * 1024, delayMs: 200 },
    });
    const home = join(scratch, "stopped");
    const statuses = await watchStatus(watcher, "stopped-board");
    const daemon = pullingDaemon(mirror.baseUrl, broker, home, "stopped-board");
    try {
      const started = daemon.start(60_000).catch(() => undefined);
      await watcher.waitFor(
        () => connected(statuses).some((s) => (s.message.model_progress?.bytes ?? 0) > 0),
        60_000,
        "download progress",
      );
      assert.equal((await daemon.stop()).code, 0);
      await started;
      await watcher.waitFor(() => statuses.at(-1)?.message.state === "offline", 10_000, "offline");
      assert.ok(!connected(statuses).some((s) => s.message.state !== "pulling"), "never loading, never online");
      const store = join(home, "home", "tinyllamad", "models");
      assert.ok(!existsSync(join(store, defaultFile)), "no complete-looking file");
      assert.ok(existsSync(join(store, ".partial", `${defaultFile}.part`)), "the part file stays to resume");
    } finally {
      await mirror.close();
    }
  });
});
