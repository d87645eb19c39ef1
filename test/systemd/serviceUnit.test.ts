/**
 * The systemd unit passes `systemd-analyze verify` and its offline security exposure stays at
 * "OK" (2.0 or lower).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { projectRoot } from "../../models/projectCacheDirectory.js";

const unitPath = join(projectRoot(), "deploy", "systemd", "tinyllamad.service");
const hasSystemdAnalyze = spawnSync("systemd-analyze", ["--version"]).status === 0;
const scratch = mkdtempSync(join(tmpdir(), "tinyllamad-unit-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

describe("deploy/systemd/tinyllamad.service", {
  skip: hasSystemdAnalyze ? false : "systemd-analyze is not installed",
}, () => {
  it("passes systemd-analyze verify", () => {
    // verify insists that ExecStart's program exists; point it at a stand-in for the bundle's launcher
    // (/opt/tinyllamad/current/bin/tinyllamad on a board). Every other line is verified as shipped.
    const launcher = join(scratch, "tinyllamad");
    writeFileSync(launcher, "#!/bin/sh\nexit 0\n");
    chmodSync(launcher, 0o755);
    const unit = readFileSync(unitPath, "utf8");
    assert.match(unit, /^ExecStart=\/opt\/tinyllamad\/current\/bin\/tinyllamad serve/m);
    const copy = join(scratch, "tinyllamad.service");
    writeFileSync(copy, unit.replaceAll("/opt/tinyllamad/current/bin/tinyllamad", launcher));
    const result = spawnSync("systemd-analyze", ["verify", copy], { encoding: "utf8" });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stderr.trim(), "", result.stderr);
  });

  it("has an offline security exposure of 2.0 or lower", () => {
    const result = spawnSync("systemd-analyze", ["security", "--offline=true", unitPath], { encoding: "utf8" });
    const match = /Overall exposure level for tinyllamad\.service: (\d+\.\d+) (\w+)/.exec(result.stdout);
    assert.ok(match, result.stdout + result.stderr);
    assert.ok(Number(match[1]) <= 2.0, `exposure ${match[1]} ${match[2]}`);
    assert.equal(match[2], "OK");
  });

  it("is Type=notify with a watchdog, restarts on failure but not on a bad configuration", () => {
    const unit = readFileSync(unitPath, "utf8");
    for (const line of [
      "Type=notify",
      "WatchdogSec=60s",
      "Restart=on-failure",
      "RestartPreventExitStatus=78",
      "ProtectSystem=strict",
      "StateDirectory=tinyllamad tinyllamad/models",
    ])
      assert.match(unit, new RegExp(`^${line}$`, "m"));
    assert.doesNotMatch(unit, /^MemoryDenyWriteExecute=yes/m, "Node's JIT needs writable+executable memory");
  });
});
