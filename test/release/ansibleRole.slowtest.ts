/**
 * The Ansible role and playbook (deploy/ansible) for real: ansible-lint and --syntax-check clean; a
 * converge with ansible_connection=local into a throw-away prefix (no users, no systemctl) whose second
 * run changes nothing; and a rollout over two simulated boards where the first fails its health gate —
 * it is rolled back to its previous release and the play stops before the second board.
 *
 * The health gate talks to a real tinyllamad (this checkout's daemon, started by the test). The bundles
 * are small ones made here in the release layout (launcher, smoke client with `ws`, unit files), with the
 * host's Node as their runtime, so that no 50 MB bundle has to be built and copied for each run.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { cliPath, DaemonProcess } from "../../harness/DaemonProcess.js";
import { freePort } from "../../harness/freePort.js";
import { sha256Of } from "../../harness/releaseBundle.js";
import { projectRoot } from "../../models/projectCacheDirectory.js";
import { testDaemonFlags } from "../support/testDaemonFlags.js";
import { testModelPath } from "../support/testModels.js";

const ansibleDirectory = join(projectRoot(), "deploy", "ansible");

function missingTool(): string | undefined {
  for (const tool of ["ansible-playbook", "ansible-lint"]) {
    try {
      execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "pipe" });
    } catch {
      return `${tool} is not installed (apt-get install ansible ansible-lint)`;
    }
  }
  return undefined;
}

interface Run {
  code: number | null;
  output: string;
  recap: Map<string, { ok: number; changed: number; failed: number }>;
}

function run(command: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: ansibleDirectory,
      env: { ...process.env, ANSIBLE_CONFIG: join(ansibleDirectory, "ansible.cfg"), ANSIBLE_NOCOLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("close", (code) => {
      const recap = new Map<string, { ok: number; changed: number; failed: number }>();
      for (const m of output.matchAll(/^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)/gm))
        recap.set(m[1]!, { ok: Number(m[2]), changed: Number(m[3]), failed: Number(m[4]) });
      resolve({ code, output, recap });
    });
  });
}

/** A small bundle in the release layout: tinyllamad-<version>-linux-x64.tar.gz and its .sha256. */
function makeBundle(bundleDirectory: string, version: string): void {
  const name = `tinyllamad-${version}-linux-x64`;
  const stage = join(bundleDirectory, "stage", name);
  mkdirSync(join(stage, "bin"), { recursive: true });
  mkdirSync(join(stage, "runtime", "bin"), { recursive: true });
  mkdirSync(join(stage, "etc"), { recursive: true });
  writeFileSync(join(stage, "VERSION"), `${version}\n`);
  writeFileSync(join(stage, "MANIFEST.json"), JSON.stringify({ name: "tinyllamad", version, target: "linux-x64" }));
  writeFileSync(
    join(stage, "bin", "tinyllamad"),
    `#!/bin/sh\nset -eu\nself=$(readlink -f -- "$0")\nroot=\${self%/bin/*}\nexec "$root/runtime/bin/node" '${cliPath}' "$@"\n`,
    { mode: 0o755 },
  );
  writeFileSync(join(stage, "runtime", "bin", "node"), `#!/bin/sh\nexec '${process.execPath}' "$@"\n`, { mode: 0o755 });
  cpSync(join(projectRoot(), "deploy", "release", "tinyllamad-smoke.mjs"), join(stage, "bin", "tinyllamad-smoke.mjs"));
  cpSync(join(projectRoot(), "node_modules", "ws"), join(stage, "node_modules", "ws"), { recursive: true });
  cpSync(join(projectRoot(), "deploy", "systemd"), join(stage, "systemd"), { recursive: true });
  writeFileSync(join(stage, "etc", "config.json"), "{}\n");
  const archive = join(bundleDirectory, `${name}.tar.gz`);
  execFileSync("tar", ["-czf", archive, "-C", join(bundleDirectory, "stage"), name]);
  writeFileSync(`${archive}.sha256`, `${sha256Of(archive)}  ${name}.tar.gz\n`);
}

function writeInventory(path: string, common: Record<string, unknown>, hosts: Record<string, Record<string, unknown>>) {
  const inventory = { all: { children: { tinyllamad: { hosts, vars: common } } } };
  writeFileSync(path, JSON.stringify(inventory, null, 2)); // JSON is YAML
}

describe("the tinyllamad Ansible role", { skip: missingTool(), timeout: 15 * 60_000 }, () => {
  const scratch = mkdtempSync(join(tmpdir(), "tinyllamad-ansible-"));
  const bundles = join(scratch, "bundles");
  const modelPath = testModelPath();
  const daemon = new DaemonProcess(
    testDaemonFlags({
      "model.path": modelPath,
      "backend.threads": 2,
      "state.directory": join(scratch, "daemon-state"),
    }),
  );
  let livePort = 0;
  let common: Record<string, unknown>;

  before(async () => {
    mkdirSync(bundles, { recursive: true });
    makeBundle(bundles, "9.0.1");
    makeBundle(bundles, "9.0.2");
    const url = await daemon.start();
    livePort = Number(new URL(url).port);
    common = {
      ansible_connection: "local",
      ansible_python_interpreter: "/usr/bin/python3",
      ansible_become: false,
      tinyllamad_manage_user: false,
      tinyllamad_manage_service: false,
      tinyllamad_bundle_dir: bundles,
      tinyllamad_bundle_target: "linux-x64",
      tinyllamad_version: "9.0.1",
      tinyllamad_model_name: "tiny.gguf",
      tinyllamad_model_controller_path: modelPath,
      tinyllamad_model_sha256: sha256Of(modelPath),
      tinyllamad_mqtt_url: "mqtt://broker.example:1883",
      tinyllamad_mqtt_password: "s3cret",
      tinyllamad_min_memory_mb: 64,
      tinyllamad_min_free_disk_mb: 16,
      tinyllamad_health_timeout_s: 6,
      tinyllamad_health_interval_s: 1,
    };
  });

  after(async () => {
    await daemon.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("passes ansible-lint (production profile) and --syntax-check", async () => {
    const lint = await run("ansible-lint", ["--offline", "--nocolor", "site.yml", "roles/tinyllamad", "inventory"]);
    assert.equal(lint.code, 0, lint.output);
    assert.match(lint.output, /0 failure\(s\), 0 warning\(s\)/);
    const syntax = await run("ansible-playbook", ["-i", "inventory/example.yml", "site.yml", "--syntax-check"]);
    assert.equal(syntax.code, 0, syntax.output);
  });

  it("converges into a prefix, passes the health gate against a real daemon, and a second run changes nothing", async () => {
    const prefix = join(scratch, "converge");
    const inventory = join(scratch, "converge.yml");
    writeInventory(inventory, common, { "board-a": { tinyllamad_root_prefix: prefix, tinyllamad_ws_port: livePort } });
    const first = await run("ansible-playbook", ["-i", inventory, "site.yml"]);
    assert.equal(first.code, 0, first.output);
    assert.ok((first.recap.get("board-a")?.changed ?? 0) > 0, first.output);
    assert.match(first.output, /Serve a short generation/);

    const current = join(prefix, "opt/tinyllamad/current");
    assert.equal(readlinkSync(current), join(prefix, "opt/tinyllamad/releases/9.0.1"));
    assert.equal(readFileSync(join(current, "VERSION"), "utf8").trim(), "9.0.1");
    const config = JSON.parse(readFileSync(join(prefix, "etc/tinyllamad/config.json"), "utf8"));
    assert.equal(config.mqtt.nodeId, "board-a");
    assert.equal(config.mqtt.url, "mqtt://broker.example:1883");
    assert.equal(config.mqtt.passwordFile, join(prefix, "etc/tinyllamad/mqtt-password"));
    assert.equal(config.http.port, livePort);
    assert.equal(readFileSync(join(prefix, "etc/tinyllamad/mqtt-password"), "utf8"), "s3cret\n");
    assert.ok(!JSON.stringify(config).includes("s3cret"), "the password is not in config.json");
    assert.equal(sha256Of(config.model.path), sha256Of(modelPath), "the model was placed");
    assert.equal(
      readFileSync(join(prefix, "etc/systemd/system/tinyllamad.service"), "utf8"),
      readFileSync(join(projectRoot(), "deploy/systemd/tinyllamad.service"), "utf8"),
    );
    // CPUAffinity= from the plan on the board (here this machine: doctor --json with the written config).
    const doctor = JSON.parse(
      execFileSync(
        process.execPath,
        [cliPath, "doctor", "--json", "--config", join(prefix, "etc/tinyllamad/config.json")],
        { encoding: "utf8" },
      ),
    ) as { plan: { cpuList: number[] } };
    assert.ok(doctor.plan.cpuList.length > 0);
    assert.match(
      readFileSync(join(prefix, "etc/systemd/system/tinyllamad.service.d/50-ansible.conf"), "utf8"),
      new RegExp(`^CPUAffinity=${doctor.plan.cpuList.join(" ")}$`, "m"),
    );
    const check = execFileSync(
      process.execPath,
      [cliPath, "config", "--print", "--config", join(prefix, "etc/tinyllamad/config.json")],
      {
        encoding: "utf8",
      },
    );
    assert.match(check, /mqtt\.nodeId = "board-a"/, "the real daemon accepts the generated configuration");

    const second = await run("ansible-playbook", ["-i", inventory, "site.yml"]);
    assert.equal(second.code, 0, second.output);
    assert.equal(second.recap.get("board-a")?.changed, 0, `second run changed something:\n${second.output}`);
  });

  it("rolls a board that fails its health gate back to the previous release and stops the rollout", async () => {
    const deadPort = await freePort();
    const hosts = (badPort: number) => ({
      "board-bad": { tinyllamad_root_prefix: join(scratch, "bad"), tinyllamad_ws_port: badPort },
      "board-good": { tinyllamad_root_prefix: join(scratch, "good"), tinyllamad_ws_port: livePort },
    });
    const inventory = join(scratch, "rollout.yml");
    // An explicit list still takes the plan's place.
    writeInventory(inventory, { ...common, tinyllamad_cpu_affinity: "4-7" }, hosts(livePort));
    const v1 = await run("ansible-playbook", ["-i", inventory, "site.yml"]);
    assert.equal(v1.code, 0, v1.output);
    assert.match(
      readFileSync(join(scratch, "good/etc/systemd/system/tinyllamad.service.d/50-ansible.conf"), "utf8"),
      /^CPUAffinity=4-7$/m,
    );

    writeInventory(inventory, { ...common, tinyllamad_version: "9.0.2" }, hosts(deadPort));
    const v2 = await run("ansible-playbook", ["-i", inventory, "site.yml"]);
    assert.notEqual(v2.code, 0, `the rollout must fail:\n${v2.output}`);
    assert.equal(v2.recap.get("board-bad")?.failed, 1, v2.output);
    assert.match(v2.output, /board-bad failed the health gate after installing 9\.0\.2/);
    assert.match(v2.output, /rolled back to .*releases\/9\.0\.1/);
    assert.equal(
      readlinkSync(join(scratch, "bad/opt/tinyllamad/current")),
      join(scratch, "bad/opt/tinyllamad/releases/9.0.1"),
    );
    assert.ok(
      existsSync(join(scratch, "bad/opt/tinyllamad/releases/9.0.2/VERSION")),
      "the new release stays unpacked beside",
    );
    const restored = JSON.parse(readFileSync(join(scratch, "bad/etc/tinyllamad/config.json"), "utf8"));
    assert.equal(restored.http.port, livePort, "the previous configuration is restored");
    assert.ok(!v2.recap.has("board-good"), `the rollout stopped before the next batch:\n${v2.output}`);
    assert.equal(
      readlinkSync(join(scratch, "good/opt/tinyllamad/current")),
      join(scratch, "good/opt/tinyllamad/releases/9.0.1"),
    );
  });
});
