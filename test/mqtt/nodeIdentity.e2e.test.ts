/**
 * Two daemons with one node id on one real Mosquitto (cloned SD-card images share the hostname, the
 * default id): the second to start exits 78 naming the fix, the first keeps serving; a retained status
 * left by an instance that is gone does not stop a start; and of two instances that got past the
 * start-up check, the one that started later stops.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { NodeStatusMessage } from "../../daemon/protocol/messages.js";
import { cliPath, DaemonProcess } from "../../harness/DaemonProcess.js";
import { MosquittoBroker } from "../../harness/MosquittoBroker.js";
import { MqttProbeClient } from "../../harness/MqttProbeClient.js";
import { testModelPath } from "../support/testModels.js";

const base = "tinyllamad";
const scratch = mkdtempSync(join(tmpdir(), "tinyllamad-identity-"));
let stateCounter = 0;

function daemonArgs(node: string, brokerUrl: string): string[] {
  return [
    "--model.path",
    testModelPath(),
    "--model.contextSize",
    "256",
    "--http.port",
    "0",
    "--mqtt.url",
    brokerUrl,
    "--mqtt.nodeId",
    node,
    "--mqtt.statusIntervalMs",
    "1000",
    "--hal.calibrate",
    "false",
    "--state.directory",
    join(scratch, `state-${stateCounter++}`),
  ];
}

/** Runs `serve` until it exits by itself (or 60 s pass) and returns its exit and output. */
async function serveUntilExit(args: string[]) {
  const child = spawn(process.execPath, [cliPath, "serve", ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const [code, signal] = await once(child, "exit");
  clearTimeout(timer);
  return { code: code as number | null, signal: signal as NodeJS.Signals | null, stdout, stderr };
}

async function retainedStatus(client: MqttProbeClient, node: string): Promise<NodeStatusMessage> {
  const topic = `${base}/${node}/status`;
  await client.subscribe(topic);
  await client.waitFor(() => client.received.some((r) => r.topic === topic), 10_000, "the retained status");
  return client.received.filter((r) => r.topic === topic).at(-1)?.message as unknown as NodeStatusMessage;
}

describe("one node id, two daemons (real Mosquitto)", () => {
  const broker = new MosquittoBroker();
  before(() => broker.start());
  after(async () => {
    await broker.dispose();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("the second to start exits 78 naming mqtt.nodeId; the first keeps serving, its session never taken", async () => {
    const node = "cloned-board";
    const first = new DaemonProcess(daemonArgs(node, broker.url));
    await first.start();
    const client = await MqttProbeClient.connect(broker.url);
    try {
      const firstStatus = await retainedStatus(client, node);
      assert.equal(typeof firstStatus.instance, "string");

      const second = await serveUntilExit(daemonArgs(node, broker.url));
      assert.equal(second.code, 78, second.stderr);
      assert.match(second.stderr, /another tinyllamad instance is using the node id 'cloned-board'/);
      assert.match(second.stderr, /mqtt\.nodeId/);
      assert.match(second.stderr, /TINYLLAMAD_MQTT_NODE_ID/);

      await client.subscribe("replies/#");
      await client.publish(
        `${base}/${node}/request`,
        { type: "generate", id: "after-clone", prompt: "Hello", max_tokens: 4, temperature: 0 },
        { properties: { responseTopic: "replies/after-clone" } },
      );
      assert.equal((await client.final("after-clone")).type, "done");
      assert.equal(client.finals("after-clone").length, 1);
      const connects = first.logLines.filter((line) => line.msg === "MQTT connected");
      assert.equal(connects.length, 1, "the first instance kept its one session");
      const status = await (async () => {
        const fresh = await MqttProbeClient.connect(broker.url);
        try {
          return await retainedStatus(fresh, node);
        } finally {
          await fresh.end();
        }
      })();
      assert.equal(status.instance, firstStatus.instance, "the retained status is still the first instance's");
    } finally {
      await client.end();
      assert.equal((await first.stop()).code, 0);
    }
  });

  it("a live-looking retained status of an instance that is gone (power cut) does not stop a start", async () => {
    const node = "power-cut";
    const client = await MqttProbeClient.connect(broker.url);
    try {
      await client.publish(
        `${base}/${node}/status`,
        { type: "status", state: "online", node, instance: "gone-instance", started_at: "2020-01-01T00:00:00.000Z" },
        { retain: true },
      );
      const daemon = new DaemonProcess(daemonArgs(node, broker.url));
      await daemon.start();
      await daemon.waitForLog((line) => /that instance is gone/.test(line.msg), 5_000);
      assert.equal((await daemon.stop()).code, 0);
    } finally {
      await client.end();
    }
  });

  it("of two instances past the start-up check, the one that started later stops with exit 78", async () => {
    const node = "raced-board";
    const daemon = new DaemonProcess(daemonArgs(node, broker.url));
    await daemon.start();
    const reader = await MqttProbeClient.connect(broker.url);
    await reader.subscribe(`${base}/${node}/status`);
    // An instance that started earlier takes the session (same client id) and leaves its status.
    const earlier = await MqttProbeClient.connect(broker.url, {
      clientId: `tinyllamad_${node}`,
      clean: false,
      reconnectPeriod: 0,
    });
    await earlier.publish(
      `${base}/${node}/status`,
      { type: "status", state: "online", node, instance: "earlier-instance", started_at: "2001-01-01T00:00:00.000Z" },
      { retain: true },
    );
    await earlier.end();
    const exit = await daemon.exited();
    assert.equal(exit.code, 78, daemon.stderr);
    assert.match(daemon.stderr, /instance earlier-instance, started 2001-01-01T00:00:00.000Z, holds it/);
    assert.match(daemon.stderr, /mqtt\.nodeId/);
    // The instance that stays owns the status topic: the one that stopped published no "offline" over it
    // (neither its clean stop's nor its last will). The reader saw everything published since before the race.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const statuses = reader.received.filter((r) => r.topic === `${base}/${node}/status`).map((r) => r.message);
    await reader.end();
    assert.ok(statuses.length > 0, "the reader saw the status topic");
    assert.deepEqual(
      statuses.filter((s) => (s as { state?: string }).state === "offline"),
      [],
    );
  });
});
