/**
 * Start-up failures of `tinyllamad serve` stop the process with a message a person can act on.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { cliPath } from "../../harness/DaemonProcess.js";
import { projectRoot } from "../../models/projectCacheDirectory.js";
import { testDaemonFlags } from "../support/testDaemonFlags.js";

const scratch = mkdtempSync(join(tmpdir(), "tinyllamad-cli-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

function runCli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [cliPath, ...args], {
    encoding: "utf8",
    env: { ...process.env, XDG_DATA_HOME: scratch, ...env },
    timeout: 60_000,
  });
}

describe("tinyllamad serve start-up", () => {
  it("a missing model file stops start-up with exit 78 and says how to get a model", () => {
    const missing = join(scratch, "nope.gguf");
    const result = runCli(["serve", "--model.path", missing, "--http.port", "0"]);
    assert.equal(result.status, 78);
    assert.match(result.stderr, new RegExp(`model file not found: ${missing}`));
    assert.match(result.stderr, /models make-test/);
    assert.match(result.stderr, /TINYLLAMAD_MODEL_PATH/);
  });

  it("without model.path it looks for the default model in the store and names that path", () => {
    const result = runCli(["serve", "--http.port", "0"]);
    assert.equal(result.status, 78);
    assert.match(result.stderr, /tinyllamad\/models\/tinyllama-1\.1b-chat-v1\.0\.Q4_K_M\.gguf/);
  });

  it("an invalid config value stops start-up naming the key, the value and what was expected", () => {
    const result = runCli(["serve"], { TINYLLAMAD_HTTP_PORT: "eighty" });
    assert.equal(result.status, 78);
    assert.match(result.stderr, /http\.port/);
    assert.match(result.stderr, /eighty/);
    assert.match(result.stderr, /TINYLLAMAD_HTTP_PORT/);
  });

  it("config --print shows effective values with their sources and redacts secrets", () => {
    const result = runCli(["config", "--print", "--http.port", "9000"], {
      TINYLLAMAD_HTTP_TOKEN: "hunter2-secret",
      TINYLLAMAD_MQTT_NODE_ID: "barn-3",
    });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /http\.port = 9000 +# from arg/);
    assert.match(result.stdout, /mqtt\.nodeId = "barn-3" +# from env/);
    assert.match(result.stdout, /log\.level = "info" +# from default/);
    assert.match(result.stdout, /http\.token = "\[redacted\]"/);
    assert.ok(!result.stdout.includes("hunter2-secret"));
    const json = runCli(["config", "--print", "--json"], { TINYLLAMAD_HTTP_PORT: "8800" });
    const parsed = JSON.parse(json.stdout) as Record<string, { value: unknown; source: string; env: string }>;
    assert.deepEqual(parsed["http.port"], {
      ...parsed["http.port"],
      value: 8800,
      source: "env",
      env: "TINYLLAMAD_HTTP_PORT",
    });
  });

  it("a model that cannot fit the board's memory stops start-up with exit 78 and a way out", () => {
    const board = join(projectRoot(), "test", "fixtures", "boards", "rpi4-1gb");
    const big = join(scratch, "big.gguf");
    writeFileSync(big, "");
    truncateSync(big, 1_200_000_000);
    // At the default context size (2048 tokens).
    const settings = { "model.path": big, "model.contextSize": 2048, "hal.root": board };
    const result = runCli(["serve", ...testDaemonFlags(settings)]);
    assert.equal(result.status, 78, result.stderr);
    assert.match(result.stderr, /does not fit this board's memory/);
    assert.match(result.stderr, /smaller model|fewer parallel sequences/);
    assert.match(result.stderr, /tinyllamad doctor/);
  });

  it("an unknown command prints the usage and exits 2", () => {
    const result = runCli(["dance"]);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /unknown command 'dance'/);
    assert.match(result.stderr, /serve/);
  });

  it("listening beyond loopback without a token is refused", () => {
    const result = runCli(["serve", "--http.host", "0.0.0.0", "--model.path", cliPath]);
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /http\.token/);
  });
});
