/**
 * gatherSequencesIntoBatches.ts hooks node-llama-cpp's private decode queue, so it refuses to load
 * under any node-llama-cpp but the one it was written for, naming both versions (docs/dependencies.md).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  assertHookedNodeLlamaCppVersion,
  hookedNodeLlamaCppVersion,
} from "../../hal/backends/llamaCpp/gatherSequencesIntoBatches.js";
import { installedNodeLlamaCppVersion } from "../../hal/backends/llamaCpp/nodeLlamaCppPackage.js";
import { projectRoot } from "../../models/projectCacheDirectory.js";

describe("the node-llama-cpp version guard", () => {
  it("accepts the version the hook was written for", () => {
    assert.doesNotThrow(() => assertHookedNodeLlamaCppVersion(hookedNodeLlamaCppVersion));
  });

  it("refuses any other, naming the expected and the installed version", () => {
    for (const other of ["3.22.2", "3.23.0", "4.0.0", "3.22.1-beta.1"])
      assert.throws(
        () => assertHookedNodeLlamaCppVersion(other),
        (error: Error) =>
          error.message.includes(`node-llama-cpp ${other} is installed`) &&
          error.message.includes(`node-llama-cpp ${hookedNodeLlamaCppVersion} exactly`) &&
          error.message.includes("docs/dependencies.md"),
      );
  });

  it("package.json pins exactly the hooked version, and that is what is installed", () => {
    const manifest = JSON.parse(readFileSync(join(projectRoot(), "package.json"), "utf8")) as {
      dependencies: Record<string, string>;
    };
    assert.equal(manifest.dependencies["node-llama-cpp"], hookedNodeLlamaCppVersion, "an exact pin, no range");
    assert.equal(installedNodeLlamaCppVersion(), hookedNodeLlamaCppVersion);
  });

  it("stops the module from loading next to another node-llama-cpp", () => {
    const root = mkdtempSync(join(tmpdir(), "tinyllamad-nlc-guard-"));
    try {
      writeFileSync(join(root, "package.json"), JSON.stringify({ type: "module" }));
      const fakePackage = join(root, "node_modules", "node-llama-cpp");
      mkdirSync(fakePackage, { recursive: true });
      writeFileSync(
        join(fakePackage, "package.json"),
        JSON.stringify({ name: "node-llama-cpp", version: "3.23.0", main: "index.js" }),
      );
      writeFileSync(join(fakePackage, "index.js"), "module.exports = {};\n");
      const compiled = join(projectRoot(), "dist", "hal", "backends", "llamaCpp");
      for (const file of ["gatherSequencesIntoBatches.js", "nodeLlamaCppPackage.js"])
        cpSync(join(compiled, file), join(root, file));
      const result = spawnSync(process.execPath, [join(root, "gatherSequencesIntoBatches.js")], { encoding: "utf8" });
      assert.notEqual(result.status, 0);
      assert.match(result.stderr, /node-llama-cpp 3\.23\.0 is installed/);
      assert.match(
        result.stderr,
        new RegExp(`node-llama-cpp ${hookedNodeLlamaCppVersion.replaceAll(".", "\\.")} exactly`),
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
