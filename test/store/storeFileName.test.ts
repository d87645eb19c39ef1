/**
 * Store commands take model names, never paths: names that would reach outside the store are
 * refused with a clear error and exit code, no stack trace, and nothing is read or written outside.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { projectRoot } from "../../models/projectCacheDirectory.js";
import { ModelStore } from "../../models/store/ModelStore.js";
import { storeFileNameProblem } from "../../models/store/storeFileName.js";

const scratch = mkdtempSync(join(tmpdir(), "tinyllamad-store-names-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** Every path under a directory, to compare before and after a command. */
function tree(directory: string): string[] {
  return readdirSync(directory, { recursive: true, encoding: "utf8" }).sort();
}

describe("store file names", () => {
  it("accepts plain file names and refuses everything that could leave the store", () => {
    assert.equal(storeFileNameProblem("tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf"), undefined);
    for (const name of ["", "..", ".", "../../x", "a/b", "/etc/passwd", "a\\b", ".partial", ".verified", "x\0y"])
      assert.ok(storeFileNameProblem(name) !== undefined, JSON.stringify(name));
    assert.ok(storeFileNameProblem("x".repeat(256)) !== undefined);
  });

  it("ModelStore builds no path from an escaping name", async () => {
    const store = new ModelStore(join(scratch, "unit-store"));
    assert.throws(() => store.completePath("../x"), { code: "E_BAD_MODEL_NAME" });
    assert.throws(() => store.verifiedRecordPath(".."), { code: "E_BAD_MODEL_NAME" });
    await assert.rejects(store.verify("../../x", null), { code: "E_BAD_MODEL_NAME" });
    await assert.rejects(store.remove(".."), { code: "E_BAD_MODEL_NAME" });
  });

  it("`models rm ..` and `models verify ../../x` fail clearly, without a stack trace, touching nothing outside", () => {
    const root = join(scratch, "cli");
    const store = join(root, "a", "store");
    mkdirSync(store, { recursive: true });
    writeFileSync(join(root, "x"), "a file outside the store");
    const before = tree(root);
    const cli = join(projectRoot(), "dist", "daemon", "cli.js");
    for (const args of [
      ["rm", ".."],
      ["verify", "../../x"],
      ["rm", "/etc/hostname"],
      ["verify", ""],
      ["rm", "../../x", "--json"],
    ]) {
      const run = spawnSync(process.execPath, [cli, "models", ...args, "--store", store], { encoding: "utf8" });
      const output = run.stdout + run.stderr;
      assert.equal(run.status, 1, `${args.join(" ")}: ${output}`);
      assert.match(output, /E_BAD_MODEL_NAME/, args.join(" "));
      assert.doesNotMatch(output, /\n\s+at /, `${args.join(" ")}: no stack trace`);
    }
    assert.deepEqual(tree(root), before, "nothing was written, moved or deleted");
  });
});
