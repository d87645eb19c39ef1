/**
 * A hot board: above thermal.limitCelsius batch-priority requests wait while interactive ones are
 * served; when it cools 5 °C below the limit they run. The temperature shows in /metrics and /healthz.
 * The board is a copy of the Orange Pi 5 fixture tree whose thermal files the test rewrites.
 */
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { DaemonProcess } from "../../harness/DaemonProcess.js";
import { ProtocolClient } from "../../harness/ProtocolClient.js";
import { projectRoot } from "../../models/projectCacheDirectory.js";
import { testDaemonFlags } from "../support/testDaemonFlags.js";

const board = mkdtempSync(join(tmpdir(), "tinyllamad-hot-board-"));
after(() => rmSync(board, { recursive: true, force: true }));

function setTemperature(celsius: number): void {
  const zones = join(board, "sys", "class", "thermal");
  for (const zone of readdirSync(zones).filter((name) => name.startsWith("thermal_zone")))
    writeFileSync(join(zones, zone, "temp"), `${celsius * 1000}\n`);
}

describe("thermal guard", () => {
  it("pauses batch work while the board is hot and resumes when it cools", async () => {
    cpSync(join(projectRoot(), "test", "fixtures", "boards", "opi5-no-npu"), board, { recursive: true });
    setTemperature(86);
    const daemon = new DaemonProcess(
      testDaemonFlags({ "hal.root": board, "thermal.limitCelsius": 80, "thermal.pollMs": 200 }),
    );
    const url = await daemon.start();
    try {
      await daemon.waitForLog((l) => l.msg === "board too hot: pausing batch-priority work", 10_000);
      const client = await ProtocolClient.connect(url);
      const batch = client.answer("batch");
      client.send({ type: "generate", id: "batch", prompt: "Nightly summary:", max_tokens: 4, priority: "batch" });
      const interactive = await client.request({ id: "now", prompt: "Hello", max_tokens: 4 });
      assert.equal(interactive.final.type, "done", "interactive work is served while hot");
      await new Promise((resolve) => setTimeout(resolve, 600));
      assert.equal(client.received.filter((m) => m.id === "batch").length, 0, "batch work waits while hot");
      const health = (await (await fetch(`${url.replace("ws://", "http://")}healthz`)).json()) as Record<
        string,
        unknown
      >;
      assert.equal(health.temperature_celsius, 86);
      assert.equal(health.thermal_pause, true);
      const metrics = await (await fetch(`${url.replace("ws://", "http://")}metrics`)).text();
      assert.match(metrics, /tinyllamad_temperature_celsius\{zone="[^"]+"\} 86/);

      setTemperature(74);
      const { final } = await batch;
      assert.equal(final.type, "done", "batch work runs once the board cooled down");
      await daemon.waitForLog((l) => l.msg === "board cooled down: batch-priority work resumes", 5_000);
      await client.close();
    } finally {
      assert.equal((await daemon.stop()).code, 0);
    }
  });
});
