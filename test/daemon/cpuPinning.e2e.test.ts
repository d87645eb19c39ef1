/**
 * The plan's cores applied: on a big.LITTLE board the daemon pins its threads — llama.cpp's inference
 * threads included, which start after the pin — to the big cores, read back from the kernel
 * (/proc/<pid>/task/<tid>/status, Cpus_allowed_list). The board is a fixture tree whose big core is a
 * CPU this machine has: a two-core RK3588 (cpu0 a Cortex-A55, cpu1 a Cortex-A76), so the plan names cpu1.
 */
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { allowedCpus } from "../../hal/threads/pinThreadsToCpus.js";
import { DaemonProcess } from "../../harness/DaemonProcess.js";
import { ProtocolClient } from "../../harness/ProtocolClient.js";
import { projectRoot } from "../../models/projectCacheDirectory.js";
import { testDaemonFlags } from "../support/testDaemonFlags.js";

const scratch = mkdtempSync(join(tmpdir(), "tinyllamad-pinning-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** opi5-no-npu cut down to one little core (cpu0) and one big core (its cpu4, renumbered cpu1). */
function twoCoreBigLittleBoard(): string {
  const board = join(scratch, "board");
  cpSync(join(projectRoot(), "test", "fixtures", "boards", "opi5-no-npu"), board, { recursive: true });
  const cpuinfo = readFileSync(join(board, "proc", "cpuinfo"), "utf8");
  const blocks = cpuinfo.split(/\n\n/).filter((block) => block.startsWith("processor"));
  const little = blocks.find((block) => /^processor\s*:\s*0$/m.test(block)) as string;
  const big = (blocks.find((block) => /^processor\s*:\s*4$/m.test(block)) as string).replace(
    /^processor\s*:\s*4$/m,
    "processor\t: 1",
  );
  writeFileSync(join(board, "proc", "cpuinfo"), `${little}\n\n${big}\n`);
  const cpus = join(board, "sys", "devices", "system", "cpu");
  rmSync(join(cpus, "cpu1"), { recursive: true });
  cpSync(join(cpus, "cpu4"), join(cpus, "cpu1"), { recursive: true });
  for (const index of [2, 3, 4, 5, 6, 7]) rmSync(join(cpus, `cpu${index}`), { recursive: true });
  writeFileSync(join(cpus, "online"), "0-1\n");
  return board;
}

function threadAffinities(pid: number): Map<number, string> {
  const affinities = new Map<number, string>();
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      const status = readFileSync(`/proc/${pid}/task/${task}/status`, "utf8");
      affinities.set(Number(task), /^Cpus_allowed_list:\s*(\S+)$/m.exec(status)?.[1] ?? "?");
    } catch {
      // the thread ended meanwhile
    }
  }
  return affinities;
}

const here = allowedCpus();
const skip = !here.includes(0) || !here.includes(1) ? `needs cpus 0 and 1 (this process may use ${here})` : false;

describe("CPU pinning from the plan", { skip }, () => {
  const flags = (settings: Record<string, string | boolean>) =>
    testDaemonFlags({ "backend.kind": "cpu", "hal.calibrate": false, ...settings });

  it("pins every thread to the big core, those llama.cpp starts for inference included", async () => {
    const daemon = new DaemonProcess(flags({ "hal.root": twoCoreBigLittleBoard() }));
    const url = await daemon.start();
    const client = await ProtocolClient.connect(url);
    try {
      const before = threadAffinities(daemon.pid as number);
      const { final } = await client.request({ id: "pinned", prompt: "Hello", max_tokens: 4 });
      assert.equal(final.type, "done");
      const affinities = threadAffinities(daemon.pid as number);
      const started = [...affinities.keys()].filter((tid) => !before.has(tid));
      assert.deepEqual(new Set(affinities.values()), new Set(["1"]), JSON.stringify([...affinities]));
      assert.ok(affinities.size > 1, "the daemon has threads besides the main one");
      const pinned = daemon.logLines.find((line) => line.msg === "threads pinned to the planned cores");
      assert.deepEqual(pinned?.cpus, [1]);
      // Threads started after the pin (a generation's workers) carry it too, when any were started.
      for (const tid of started) assert.equal(affinities.get(tid), "1");
    } finally {
      await client.close();
      await daemon.stop();
    }
  });

  it("backend.pinThreads false leaves the threads where the system put them", async () => {
    const daemon = new DaemonProcess(flags({ "hal.root": twoCoreBigLittleBoard(), "backend.pinThreads": false }));
    await daemon.start();
    try {
      const inherited = /^Cpus_allowed_list:\s*(\S+)$/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
      assert.deepEqual(new Set(threadAffinities(daemon.pid as number).values()), new Set([inherited]));
      assert.ok(!daemon.logLines.some((line) => line.msg === "threads pinned to the planned cores"));
    } finally {
      await daemon.stop();
    }
  });
});
