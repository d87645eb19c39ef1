/**
 * `tinyllamad` as a command: the built CLI is executable, every command and subcommand answers --help
 * and -h, a mistyped flag is named with the closest real one, `models catalog` lists what can be pulled,
 * `npm install -g .` puts a working `tinyllamad` on PATH, and `ask` talks to a real daemon.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { cliPath } from "../../harness/DaemonProcess.js";
import { projectRoot } from "../../models/projectCacheDirectory.js";
import { daemonForSuite } from "../support/daemonForSuite.js";
import { testDaemonFlags } from "../support/testDaemonFlags.js";

const scratch = mkdtempSync(join(tmpdir(), "tinyllamad-command-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs the built CLI as a program (its shebang and mode), not through `node`. */
function tinyllamad(args: string[], options: { cwd?: string; executable?: string } = {}) {
  return spawnSync(options.executable ?? cliPath, args, {
    cwd: options.cwd ?? projectRoot(),
    encoding: "utf8",
    env: { ...process.env, XDG_DATA_HOME: scratch, XDG_STATE_HOME: scratch },
    timeout: 60_000,
  });
}

const helpCases = [
  [],
  ["serve"],
  ["config"],
  ["doctor"],
  ["ask"],
  ["run"],
  ["chat"],
  ["models"],
  ["models", "catalog"],
  ["models", "pull"],
  ["models", "list"],
  ["models", "verify"],
  ["models", "rm"],
  ["models", "info"],
  ["models", "make-test"],
];

describe("tinyllamad as a command", () => {
  it("the built dist/daemon/cli.js is executable and runs by its shebang", () => {
    assert.ok(statSync(cliPath).mode & 0o111, "dist/daemon/cli.js has the executable bit after npm run build");
    const result = tinyllamad(["--version"]);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^\d+\.\d+\.\d+/);
  });

  for (const command of helpCases) {
    for (const flag of ["--help", "-h"]) {
      it(`tinyllamad ${[...command, flag].join(" ")} prints its usage and exits 0`, () => {
        const result = tinyllamad([...command, flag]);
        assert.equal(result.status, 0, result.stderr);
        assert.match(result.stdout, new RegExp(`Usage: tinyllamad ${command.join(" ")}`));
        assert.equal(result.stderr, "");
      });
    }
  }

  it("a mistyped flag is named with the closest real one, for every kind of command", () => {
    const cases: Array<[string[], RegExp]> = [
      [
        ["serve", "--allow-unverified"],
        /unknown option --allow-unverified \(did you mean --model\.allowUnverified\?\)/,
      ],
      [["serve", "--ws.prot", "9000"], /unknown option --ws\.prot \(did you mean --http\.port\?\)/],
      [["config", "--print", "--modle.path=x"], /unknown option --modle\.path \(did you mean --model\.path\?\)/],
      [["doctor", "--jsno"], /unknown option --jsno \(did you mean --json\?\)/],
      [["models", "pull", "x", "--mirorr", "http://m"], /unknown option --mirorr \(did you mean --mirror\?\)/],
      [["models", "make-test", "--shap", "tiny"], /unknown option --shap \(did you mean --shape\?\)/],
      [["sevre"], /unknown command 'sevre' \(did you mean serve\?\)/],
      [["models", "lsit"], /unknown models command: lsit \(did you mean list\?\)/],
    ];
    for (const [args, message] of cases) {
      const result = tinyllamad(args);
      assert.equal(result.status, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, message);
    }
    const far = tinyllamad(["serve", "--completely-different"]);
    assert.equal(far.status, 2);
    assert.match(far.stderr, /unknown option --completely-different\n/, "no suggestion when nothing is close");
  });

  it("models catalog (and models list --available) lists what can be pulled, sizes and fit", () => {
    const result = tinyllamad(["models", "catalog", "--json", "--store", join(scratch, "store")]);
    assert.equal(result.status, 0, result.stderr);
    const listed = JSON.parse(result.stdout) as {
      models: Array<{
        name: string;
        sizeBytes: number | null;
        approximateSizeBytes: number;
        fits: boolean;
        default: boolean;
      }>;
    };
    assert.ok(listed.models.length > 1);
    assert.equal(listed.models.filter((model) => model.default).length, 1, "the default model is marked");
    for (const model of listed.models) {
      assert.ok(model.approximateSizeBytes > 0, `${model.name} has a size`);
      assert.equal(typeof model.fits, "boolean");
    }
    const available = tinyllamad(["models", "list", "--available", "--json", "--store", join(scratch, "store")]);
    const names = (models: Array<{ name: string }>) => models.map((model) => model.name);
    assert.deepEqual(names((JSON.parse(available.stdout) as typeof listed).models), names(listed.models));
    const human = tinyllamad(["models", "catalog", "--context", "512", "--store", join(scratch, "store")]);
    assert.equal(human.status, 0, human.stderr);
    assert.match(human.stdout, /context 512/);
    for (const model of listed.models)
      assert.match(human.stdout, new RegExp(model.name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")));
  });

  it("npm install -g . puts tinyllamad on PATH, working from any directory (offline, temporary prefix)", () => {
    const prefix = join(scratch, "prefix");
    const install = spawnSync(
      "npm",
      ["install", "-g", ".", "--prefix", prefix, "--offline", "--no-audit", "--no-fund"],
      {
        cwd: projectRoot(),
        encoding: "utf8",
        timeout: 120_000,
      },
    );
    assert.equal(install.status, 0, install.stderr);
    const installed = join(prefix, "bin", "tinyllamad");
    const help = tinyllamad(["--help"], { cwd: "/", executable: installed });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /Usage: tinyllamad <command>/);
    const doctor = tinyllamad(["doctor", "--json"], { cwd: "/", executable: installed });
    assert.equal(doctor.status, 0, doctor.stderr);
    assert.ok((JSON.parse(doctor.stdout) as Record<string, unknown>).board, "doctor reports the board");
  });
});

describe("tinyllamad ask", () => {
  const { url } = daemonForSuite(testDaemonFlags({ "backend.threads": 1, "state.directory": join(scratch, "state") }));

  it("asks a running daemon one question from any directory and prints the streamed answer", () => {
    const result = tinyllamad(["ask", "--url", url(), "--max-tokens", "8", "Hi", "there!"], { cwd: "/" });
    assert.equal(result.status, 0, result.stderr);
    assert.ok(result.stdout.trim().length > 0, "the answer's text is printed");
    const json = tinyllamad(["ask", "--url", url(), "--max-tokens", "4", "--json", "Hi!"]);
    assert.equal(json.status, 0, json.stderr);
    const messages = json.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { type: string });
    assert.equal(messages.at(-1)?.type, "done");
  });

  it("finds the daemon from the configuration's http.port when no --url is given", () => {
    const port = new URL(url()).port;
    const result = tinyllamad(["ask", "--http.port", port, "--max-tokens", "4", "Hello"]);
    assert.equal(result.status, 0, result.stderr);
  });

  it("the README's WebSocket one-liner works from any directory on this Node", () => {
    const readme = readFileSync(join(projectRoot(), "README.md"), "utf8");
    const oneLiner = readme.split("\n").find((line) => line.startsWith("node --experimental-websocket -e "));
    assert.ok(oneLiner, "README has the node one-liner");
    assert.ok(oneLiner.includes("ws://127.0.0.1:8765/"), "it talks to the default address");
    const result = spawnSync("sh", ["-c", oneLiner.replace("ws://127.0.0.1:8765/", url())], {
      cwd: "/",
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /"type":"done"/);
  });

  it("says how to start the daemon when nothing listens, and refuses an empty prompt", () => {
    const nothing = tinyllamad(["ask", "--url", "ws://127.0.0.1:9/", "Hello"]);
    assert.equal(nothing.status, 69, "ask is run's older name: run's exit codes (docs/client.md)");
    assert.match(nothing.stderr, /cannot reach the daemon at ws:\/\/127\.0\.0\.1:9\/.*tinyllamad serve/);
    const empty = tinyllamad(["ask", "--url", url()]);
    assert.equal(empty.status, 2);
    assert.match(empty.stderr, /usage: tinyllamad ask/);
  });
});
