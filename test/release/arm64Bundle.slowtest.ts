/**
 * The linux-arm64 release bundle, unpacked into a clean folder, runs as a board would run it: its own
 * aarch64 Node runtime (through qemu-user via binfmt, QEMU_CPU=cortex-a72 like a Raspberry Pi 4), its own
 * node-llama-cpp prebuilt, the tiny generated model — and its greedy output equals the x86-64 daemon's.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { prepareAarch64Emulation } from "../../harness/aarch64Emulation.js";
import { DaemonProcess } from "../../harness/DaemonProcess.js";
import { type Bundle, buildBundle, sha256Of, unpackBundle } from "../../harness/releaseBundle.js";
import { startBundle } from "../../harness/startBundle.js";
import { testModelPath } from "../support/testModels.js";
import { elfIdentity, greedy, serveFlags } from "./emulatedBundle.js";

const skipReason = prepareAarch64Emulation();

describe("the linux-arm64 release bundle under qemu-aarch64", { skip: skipReason, timeout: 20 * 60_000 }, () => {
  const scratch = mkdtempSync(join(tmpdir(), "tinyllamad-arm64-"));
  const modelPath = testModelPath();
  let bundle: Bundle;
  let root = "";
  let x64Answer: { text: string; tokens: number };

  before(async () => {
    bundle = buildBundle("linux-arm64");
    root = unpackBundle(bundle);
    const x64 = new DaemonProcess(serveFlags(modelPath, join(scratch, "x64-state")));
    try {
      x64Answer = await greedy(await x64.start());
    } finally {
      await x64.stop();
    }
  });

  after(() => {
    rmSync(scratch, { recursive: true, force: true });
    if (root) rmSync(dirname(root), { recursive: true, force: true });
  });

  it("is the archive its .sha256 names, laid out with aarch64 binaries only", () => {
    assert.equal(sha256Of(bundle.archive), bundle.sha256);
    assert.ok(statSync(join(root, "bin", "tinyllamad")).mode & 0o111, "bin/tinyllamad is executable");
    assert.equal(elfIdentity(join(root, "runtime", "bin", "node")), "2 183", "the Node runtime is ELF64 aarch64");
    const addon = join(root, "node_modules/@node-llama-cpp/linux-arm64/bins/linux-arm64/llama-addon.node");
    assert.equal(elfIdentity(addon), "2 183", "node-llama-cpp's addon is ELF64 aarch64");
    assert.equal(elfIdentity(join(root, "node_modules/@koromix/koffi-linux-arm64/linux_arm64/koffi.node")), "2 183");
    assert.deepEqual(
      readdirSync(join(root, "node_modules/@node-llama-cpp")),
      ["linux-arm64"],
      "other prebuilts pruned",
    );
    assert.deepEqual(readdirSync(join(root, "node_modules/@koromix")), ["koffi-linux-arm64"]);
    const threadpoolFolder = join(root, "dist/hal/backends/llamaCpp/persistentThreadpool");
    assert.deepEqual(
      readdirSync(threadpoolFolder, { withFileTypes: true })
        .filter((entry) => entry.isDirectory())
        .map((entry) => entry.name),
      ["linux-arm64"],
      "the persistent threadpool library is built for the target only",
    );
    assert.equal(elfIdentity(join(threadpoolFolder, "linux-arm64/libtinyllamad-threadpool.so")), "2 183");
    assert.ok(!existsSync(join(root, "node_modules/typescript")), "no TypeScript in the production bundle");
    for (const part of ["daemon", "hal", "models", "protocol"])
      assert.ok(existsSync(join(root, "dist", part)), `dist/${part}`);
    assert.ok(!existsSync(join(root, "dist", "test")), "no tests in the bundle");
    assert.ok(!existsSync(join(root, "dist", "devtools")), "no development tools (test-model generator, GGUF writer)");
    for (const file of ["systemd/tinyllamad.service", "systemd/tinyllamad.sysusers.conf", "etc/config.json"])
      assert.ok(existsSync(join(root, file)), file);
    const manifest = JSON.parse(readFileSync(join(root, "MANIFEST.json"), "utf8")) as {
      target: string;
      version: string;
      node: string;
    };
    assert.equal(manifest.target, "linux-arm64");
    assert.match(manifest.node, /^22\./, "the bundle carries Node 22 LTS (Node 20 reached end of life in April 2026)");
    assert.equal(readFileSync(join(root, "VERSION"), "utf8").trim(), manifest.version);
  });

  it("its Node 22 runtime and its launcher run under emulation", () => {
    const env = { PATH: process.env.PATH, QEMU_CPU: "cortex-a72" };
    const node = spawnSync(join(root, "runtime", "bin", "node"), ["--version"], { encoding: "utf8", env });
    assert.equal(node.status, 0, node.stderr);
    assert.match(node.stdout, /^v22\./);
    const help = spawnSync(join(root, "bin", "tinyllamad"), ["serve", "--help"], { encoding: "utf8", env, cwd: "/" });
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /Usage: tinyllamad serve/);
    // The catalog travels with the bundle: the board's default model, doctor and `models catalog` read it.
    const catalog = spawnSync(join(root, "bin", "tinyllamad"), ["models", "catalog", "--json"], {
      encoding: "utf8",
      env,
      cwd: "/",
    });
    assert.equal(catalog.status, 0, catalog.stderr);
    assert.match(catalog.stdout, /TinyLlama/i);
  });

  it("serves a greedy generation under emulation equal to the x86-64 daemon's", async () => {
    const { child, url, log } = await startBundle(root, serveFlags(modelPath, join(scratch, "arm64-state")));
    try {
      const executable = readlinkSync(`/proc/${child.pid}/exe`);
      assert.match(executable, /qemu-aarch64/, "the daemon runs as an emulated aarch64 process");
      const health = (await (await fetch(`${url.replace("ws://", "http://")}readyz`)).json()) as { status: string };
      assert.equal(health.status, "ready");
      const arm64Answer = await greedy(url);
      assert.ok(x64Answer.text.length > 0, "the x86-64 daemon generated text");
      assert.equal(arm64Answer.tokens, x64Answer.tokens);
      assert.equal(arm64Answer.text, x64Answer.text, `arm64 and x86-64 greedy output differ; log:\n${log.join("\n")}`);
      const served = (await (await fetch(`${url.replace("ws://", "http://")}healthz`)).json()) as {
        cpu_threadpool: string;
      };
      assert.equal(served.cpu_threadpool, "persistent", "the aarch64 decodes ran on the persistent threadpool");
    } finally {
      child.kill("SIGTERM");
      const [code] = (await once(child, "exit")) as [number | null];
      assert.equal(code, 0, `the bundle's daemon exits cleanly on SIGTERM; log:\n${log.join("\n")}`);
    }
  });
});
