/**
 * The release bundle ships only cross-compile.sh's bundled_parts (no devtools/). A daemon laid out
 * like that starts its commands normally, and `models make-test` says it is a development tool
 * instead of crashing on a missing module.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
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

describe("a daemon without its development tools (as in a release bundle)", () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), "tinyllamad-no-devtools-"));
    for (const part of bundledParts())
      cpSync(join(projectRoot(), "dist", part), join(root, "dist", part), { recursive: true });
    cpSync(join(projectRoot(), "package.json"), join(root, "package.json"));
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
