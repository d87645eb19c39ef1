/**
 * The persistent CPU threadpool (hal/backends/llamaCpp/persistentThreadpool/): with it, every llama.cpp
 * context gets exactly one threadpool that all its decodes run on and that is freed with the context;
 * the generated text is the same as without it. Each case runs in a child process because the library,
 * once loaded, is process-wide.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { PersistentThreadpoolState } from "../../hal/backends/llamaCpp/persistentThreadpool/persistentThreadpool.js";
import {
  hostTarget,
  persistentThreadpoolLibraryName,
  persistentThreadpoolLibraryPath,
} from "../../hal/backends/llamaCpp/persistentThreadpool/persistentThreadpoolLibraryPath.js";
import { testModelPath } from "../support/testModels.js";

interface ChildReport {
  texts: string[];
  textAfterPause: string;
  completionTokens: number[];
  cpuThreadpool: { before: string; after: string };
  afterGenerating: PersistentThreadpoolState;
  afterUnloading: PersistentThreadpoolState;
}

const child = fileURLToPath(new URL("../support/greedyGenerationChild.js", import.meta.url));
const buildScript = fileURLToPath(
  new URL("../../hal/backends/llamaCpp/persistentThreadpool/buildPersistentThreadpool.js", import.meta.url),
);

function runChild(mode: "on" | "off"): ChildReport {
  const output = execFileSync(process.execPath, [child, mode, testModelPath()], { encoding: "utf8" });
  return JSON.parse(output.trim().split("\n").at(-1) ?? "") as ChildReport;
}

describe("persistent CPU threadpool", () => {
  it("is compiled by npm run build for this machine", () => {
    assert.ok(existsSync(persistentThreadpoolLibraryPath()), `${persistentThreadpoolLibraryPath()} is missing`);
  });

  it("attaches one pool per context, runs every decode on it, sleeps it when idle, frees it with the context, and changes no output", () => {
    const on = runChild("on");
    const off = runChild("off");

    assert.deepEqual(on.completionTokens, [24, 24]);
    assert.deepEqual(on.texts, off.texts, "same greedy text with and without the persistent pool");

    assert.equal(on.cpuThreadpool.after, "persistent");
    assert.equal(on.afterGenerating.enabled, true);
    if (!on.afterGenerating.enabled || !on.afterUnloading.enabled) return;
    const generating = on.afterGenerating.counters;
    assert.equal(generating.poolsCreated, 1, "one pool for the one context, reused for every token");
    assert.equal(generating.poolsLive, 1);
    // Two sequences of 24 tokens decode together: at least 24 batched decodes, all on the pool.
    assert.ok(generating.decodesWithPool >= 24, `decodes on the pool: ${generating.decodesWithPool}`);
    assert.equal(generating.decodesWithoutPool, 0);
    assert.equal(generating.pauses, 1, "when both generations ended, the idle pool was put to sleep once");
    assert.equal(on.textAfterPause, on.texts[0], "the next generation woke the pool and gave the same text");
    assert.equal(on.afterUnloading.counters.poolsCreated, 1, "waking it needed no new pool");
    assert.equal(on.afterUnloading.counters.poolsLive, 0, "unloading the model freed the pool");

    assert.equal(off.cpuThreadpool.after, "per-decode");
    assert.deepEqual(off.afterGenerating, { enabled: false, reason: "not enabled" });
  });

  it("builds with a warning and no library when there is no C compiler, and fails under --require", () => {
    const outDir = mkdtempSync(join(tmpdir(), "threadpool-build-"));
    try {
      const lenient = spawnSync(process.execPath, [buildScript, "--cc", "no-such-compiler", "--out-dir", outDir], {
        encoding: "utf8",
      });
      assert.equal(lenient.status, 0);
      assert.match(lenient.stderr, /persistent threadpool library not built .*no-such-compiler/);
      assert.match(lenient.stderr, /apt-get install gcc/);

      const strict = spawnSync(
        process.execPath,
        [buildScript, "--cc", "no-such-compiler", "--out-dir", outDir, "--require"],
        { encoding: "utf8" },
      );
      assert.equal(strict.status, 1);
      assert.match(strict.stderr, /cannot run the C compiler "no-such-compiler"/);
      const library = join(outDir, hostTarget(), persistentThreadpoolLibraryName);
      assert.equal(existsSync(library), false);
      assert.equal(existsSync(`${library}.partial`), false);
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  });
});
