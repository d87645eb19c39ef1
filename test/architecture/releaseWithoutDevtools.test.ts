/**
 * The release bundle ships only cross-compile.sh's bundled_parts (no devtools/). A daemon laid out
 * like that starts its commands normally, and `models make-test` says it is a development tool
 * instead of crashing on a missing module. Its package.json (as cross-compile.sh writes it) exports
 * the client, so a program next to the bundle imports `tinyllamad/client`.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import {
  developmentToolMissingExitCode,
  developmentToolMissingMessage,
  runMakeTestModelCommand,
} from "../../models/cli/runMakeTestModelCommand.js";
import { projectRoot } from "../../models/projectCacheDirectory.js";

/** The folders cross-compile.sh copies into a bundle's dist/. */
function bundledParts(): string[] {
  const script = readFileSync(join(projectRoot(), "cross-compile.sh"), "utf8");
  const match = /^readonly bundled_parts="([^"]+)"$/m.exec(script);
  assert.ok(match?.[1], "cross-compile.sh declares bundled_parts");
  return match[1].split(" ");
}

/** The bundle's package.json, written by cross-compile.sh's own write_bundle_package_json. */
function writeBundlePackageJson(out: string): void {
  const script = readFileSync(join(projectRoot(), "cross-compile.sh"), "utf8");
  const definition = /^write_bundle_package_json\(\) \{\n[\s\S]*?\n\}\n/m.exec(script)?.[0];
  assert.ok(definition, "cross-compile.sh defines write_bundle_package_json");
  const result = spawnSync("bash", ["-c", `${definition}\nwrite_bundle_package_json "$1"`, "bash", out], {
    encoding: "utf8",
    env: { ...process.env, repo_root: projectRoot() },
  });
  assert.equal(result.status, 0, result.stderr);
}

describe("a daemon without its development tools (as in a release bundle)", () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), "tinyllamad-no-devtools-"));
    for (const part of bundledParts())
      cpSync(join(projectRoot(), "dist", part), join(root, "dist", part), { recursive: true });
    writeBundlePackageJson(join(root, "package.json"));
    symlinkSync(join(projectRoot(), "node_modules"), join(root, "node_modules"));
  });
  after(() => rmSync(root, { recursive: true, force: true }));
  const cli = (...args: string[]) =>
    spawnSync(process.execPath, [join(root, "dist/daemon/cli.js"), ...args], { encoding: "utf8", timeout: 60_000 });

  it("ships no devtools/ (the test-model generator and GGUF writer)", () => {
    assert.ok(!bundledParts().includes("devtools"));
    assert.ok(!existsSync(join(root, "dist/devtools")));
    assert.ok(existsSync(join(projectRoot(), "dist/devtools/makeTestModelCommand.js")), "the source build has it");
  });

  it("runs its commands: nothing it loads at start imports devtools/", () => {
    const result = cli("config", "--print");
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /^model\.path = /m);
  });

  it("exports the client: a program with the bundle as node_modules/tinyllamad imports tinyllamad/client and /client/mqtt", () => {
    const consumer = join(root, "consumer");
    mkdirSync(join(consumer, "node_modules"), { recursive: true });
    symlinkSync(root, join(consumer, "node_modules", "tinyllamad"));
    const program = [
      'const { TinyllamadClient } = await import("tinyllamad/client");',
      'const { TinyllamadMqttClient } = await import("tinyllamad/client/mqtt");',
      'console.log(typeof TinyllamadClient, typeof TinyllamadMqttClient, import.meta.resolve("tinyllamad/client"));',
    ].join("\n");
    const result = spawnSync(process.execPath, ["--input-type=module", "-e", program], {
      cwd: consumer,
      encoding: "utf8",
    });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout.trim(), `function function ${pathToFileURL(join(root, "dist/client/index.js")).href}`);
  });

  it("answers models make-test with what to do instead, exit 69", () => {
    const result = cli("models", "make-test", "--out", join(root, "tiny.gguf"));
    assert.equal(result.status, developmentToolMissingExitCode, result.stderr);
    assert.equal(result.stderr.trim(), developmentToolMissingMessage);
    assert.ok(!existsSync(join(root, "tiny.gguf")));
  });

  it("passes on any other failure to load the tool (only a missing module means 'not in this bundle')", async () => {
    const broken = Object.assign(new Error("SyntaxError in the tool"), { code: "ERR_SOMETHING_ELSE" });
    await assert.rejects(
      runMakeTestModelCommand([], { write: () => true }, () => Promise.reject(broken)),
      /SyntaxError in the tool/,
    );
  });
});
