/**
 * Disk faults degrade, never crash: a corrupt ledger or a directory in its place is moved aside at
 * start-up; a read-only state directory (SD cards turn read-only when they fail) and a full one (a
 * 64 KB tmpfs the test mounts and fills) keep the daemon up, hold new MQTT requests at the broker
 * (status "degraded"), and once the disk takes writes again every request is answered exactly once.
 * Mounting needs root: without it those tests are skipped, saying why.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { DaemonProcess } from "../../harness/DaemonProcess.js";
import { MosquittoBroker } from "../../harness/MosquittoBroker.js";
import { MqttProbeClient } from "../../harness/MqttProbeClient.js";
import { mqttNodeFlags } from "../support/mqttNodeFlags.js";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const notRoot = process.getuid?.() !== 0 ? "mounting a tmpfs needs root; run the suite as root to cover it" : false;

function mountTmpfs(directory: string): void {
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", directory]);
}

/** Fills the filesystem of `directory` up to the last byte; returns the filler's path. */
function fill(directory: string): string {
  const path = join(directory, "filler");
  const fd = openSync(path, "w");
  const block = Buffer.alloc(512, 120);
  try {
    for (;;) writeSync(fd, block);
  } catch {
    // ENOSPC: full.
  } finally {
    closeSync(fd);
  }
  for (const size of [64, 1]) {
    const small = openSync(path, "a");
    try {
      for (;;) writeSync(small, Buffer.alloc(size, 120));
    } catch {
      // Down to the last byte.
    } finally {
      closeSync(small);
    }
  }
  return path;
}

async function sendRequests(client: MqttProbeClient, node: string, prefix: string, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, (_, i) => `${prefix}${i}`);
  for (const id of ids)
    await client.publish(
      `tinyllamad/${node}/request`,
      { type: "generate", id, prompt: `Disk ${id}:`, max_tokens: 3, temperature: 0 },
      { properties: { responseTopic: `disk-replies/${id}` } },
    );
  return ids;
}

async function assertEachAnsweredOnce(client: MqttProbeClient, ids: string[]): Promise<void> {
  await client.waitFor(() => ids.every((id) => client.finals(id).length > 0), 40_000, `${ids.length} answers`);
  await sleep(500);
  for (const id of ids) assert.equal(client.finals(id).length, 1, `${id} answered exactly once`);
}

describe("disk faults degrade, never crash", () => {
  const root = mkdtempSync(join(tmpdir(), "tinyllamad-diskfault-"));
  let broker: MosquittoBroker;
  let client: MqttProbeClient;
  const mounts: string[] = [];

  after(async () => {
    await client?.end();
    await broker?.dispose();
    for (const mount of mounts) execFileSync("umount", ["-l", mount]);
    rmSync(root, { recursive: true, force: true });
  });

  const setUp = async () => {
    if (broker) return;
    broker = new MosquittoBroker();
    await broker.start();
    client = await MqttProbeClient.connect(broker.url);
    await client.subscribe("disk-replies/#");
  };

  it("a corrupt ledger and a directory in its place are moved aside with one log line each; serving goes on", async () => {
    await setUp();
    const state = join(root, "corrupt");
    mkdirSync(join(state, "mqtt"), { recursive: true });
    writeFileSync(join(state, "mqtt", "ledger-bad.jsonl"), 'null\n{"t":"accepted"}\ngarbage\n[1,2]\n');
    mkdirSync(join(state, "mqtt", "ledger-dir.jsonl"));
    for (const node of ["bad", "dir"]) {
      const daemon = new DaemonProcess(mqttNodeFlags({ brokerUrl: broker.url, nodeId: node, stateDirectory: state }));
      try {
        await daemon.start();
        const moved = daemon.logLines.filter((l) => String(l.msg).includes("moved it aside"));
        assert.equal(moved.length, 1, `${node}: one log line`);
        const ids = await sendRequests(client, node, `${node}-`, 3);
        await assertEachAnsweredOnce(client, ids);
      } finally {
        assert.equal((await daemon.stop()).code, 0);
      }
    }
  });

  it("a read-only state directory at start-up: the daemon starts degraded, and serves once it is writable", {
    skip: notRoot,
  }, async () => {
    await setUp();
    const state = join(root, "readonly");
    mkdirSync(state);
    mountTmpfs(state);
    mounts.push(state);
    execFileSync("mount", ["-o", "remount,ro", state]);
    const daemon = new DaemonProcess(mqttNodeFlags({ brokerUrl: broker.url, nodeId: "ro", stateDirectory: state }));
    try {
      await daemon.start();
      await daemon.waitForLog((l) => String(l.msg).startsWith("MQTT delivery ledger cannot be written"), 5_000);
      const ids = await sendRequests(client, "ro", "ro-", 10);
      await sleep(1500);
      assert.equal(ids.filter((id) => client.finals(id).length > 0).length, 0, "nothing is taken while read-only");
      execFileSync("mount", ["-o", "remount,rw", state]);
      await assertEachAnsweredOnce(client, ids);
      await daemon.waitForLog((l) => String(l.msg).startsWith("MQTT delivery ledger writable again"), 5_000);
    } finally {
      assert.equal((await daemon.stop()).code, 0);
    }
  });

  it("a full 64 KB state directory: the daemon stays up, logs once, and answers every request once after space is freed", {
    skip: notRoot,
  }, async () => {
    await setUp();
    const state = join(root, "full");
    mkdirSync(state);
    mountTmpfs(state);
    mounts.push(state);
    const daemon = new DaemonProcess(mqttNodeFlags({ brokerUrl: broker.url, nodeId: "full", stateDirectory: state }));
    try {
      await daemon.start();
      const filler = fill(state);
      const ids = await sendRequests(client, "full", "full-", 40);
      await daemon.waitForLog((l) => String(l.msg).startsWith("MQTT delivery ledger cannot be written"), 20_000);
      await sleep(1000);
      rmSync(filler);
      await assertEachAnsweredOnce(client, ids);
      await daemon.waitForLog((l) => String(l.msg).startsWith("MQTT delivery ledger writable again"), 5_000);
      const entering = daemon.logLines.filter((l) =>
        String(l.msg).startsWith("MQTT delivery ledger cannot be written"),
      );
      assert.equal(entering.length, 1, "one log line on entering the degraded state, not one per message");
    } finally {
      assert.equal((await daemon.stop()).code, 0);
    }
  });
});
