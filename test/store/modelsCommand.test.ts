import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { loadModelCatalog } from "../../models/catalog/modelCatalog.js";
import { runModelsCommand } from "../../models/cli/modelsCommand.js";
import { type TestModel, testModel } from "./testCatalogEntry.js";

const MiB = 1024 * 1024;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  json: Record<string, unknown>;
}

describe("tinyllamad models (list, verify, rm, info, pull) --json", () => {
  let model: TestModel;
  let root: string;
  let storeDirectory: string;
  let catalogPath: string;
  const fileName = "tinyllamad-test-tiny.gguf";

  async function run(...args: string[]): Promise<Run> {
    let stdout = "";
    let stderr = "";
    const code = await runModelsCommand([...args, "--store", storeDirectory], {
      stdout: { write: (text: string) => (stdout += text), isTTY: false },
      stderr: { write: (text: string) => (stderr += text) },
      catalogPath,
      memory: { totalBytes: 1024 * MiB, availableBytes: 850 * MiB },
    });
    let json: Record<string, unknown> = {};
    if (args.includes("--json") && stdout.trim()) json = JSON.parse(stdout.trim().split("\n").at(-1) as string);
    return { code, stdout, stderr, json };
  }

  before(async () => {
    model = testModel();
    root = await mkdtemp(join(tmpdir(), "tinyllamad-models-cli-"));
    storeDirectory = join(root, "store");
    const catalog = loadModelCatalog();
    catalog.models.push(model.entry([]));
    catalog.models.push(
      model.entry([], {
        name: "tinyllamad-test:medium",
        fileName: "tinyllamad-test-medium.gguf",
        sha256Confidence: "medium",
      }),
    );
    catalogPath = join(root, "catalog.json");
    await writeFile(catalogPath, JSON.stringify(catalog));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("pull refuses, before downloading, a model that does not fit this board's memory", async () => {
    const refused = await run("pull", "tinyllama-1.1b-chat:q8_0", "--json");
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /E_MODEL_TOO_LARGE: .*q8_0 does not fit/);
    assert.match(refused.stderr, /q4_k_m|q4_0/);
    assert.match(refused.stderr, /--ignore-fit/);
  });

  it("pull --from a local file, then list shows it verified", async () => {
    const pulled = await run("pull", "tinyllamad-test:tiny", "--from", model.path, "--json");
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.equal(pulled.json.sha256, model.sha256);
    assert.equal(pulled.json.verified, true);
    const listed = await run("list", "--json");
    assert.equal(listed.code, 0);
    assert.deepEqual(listed.json.models, [
      {
        name: "tinyllamad-test:tiny",
        fileName,
        path: join(storeDirectory, fileName),
        sizeBytes: model.body.length,
        status: "verified",
        sha256: model.sha256,
        sha256Confidence: "high",
      },
    ]);
    const human = await run("list");
    assert.match(human.stdout, /tinyllamad-test:tiny .* verified +tinyllamad-test-tiny\.gguf/);
  });

  it("pull of a catalog model with no sha256 is refused without --allow-unverified", async () => {
    const refused = await run("pull", "tinyllama-1.1b-base:q4_k_m", "--from", model.path, "--json");
    assert.equal(refused.code, 1);
    assert.equal((refused.json.error as { code: string }).code, "E_CHECKSUM_UNKNOWN");
    assert.match((refused.json.error as { message: string }).message, /--allow-unverified.*model\.allowUnverified/);
  });

  it("pull --from refuses a file that is not that model: wrong size for a known digest, wrong shape without one", async () => {
    const wrongSize = await run("pull", "tinyllama-1.1b-chat:q4_k_m", "--from", model.path, "--ignore-fit", "--json");
    assert.equal(wrongSize.code, 1);
    const sizeError = wrongSize.json.error as { code: string; message: string };
    assert.equal(sizeError.code, "E_CHECKSUM_MISMATCH");
    assert.match(sizeError.message, /is 668788096 bytes with sha256 9fecc3b3cd76bba8/);
    assert.equal(existsSync(join(storeDirectory, "tinyllama-1.1b-chat-v1.0.Q4_K_M.gguf")), false);

    // The base model has no known digest: with --allow-unverified only the GGUF shape stands between
    // the board and a wrong file, and the tiny test model (2 layers, 128 wide) is not TinyLlama.
    const base = "tinyllama-1.1b-intermediate-step-1431k-3t.Q4_K_M.gguf";
    const wrongShape = await run(
      "pull",
      "tinyllama-1.1b-base:q4_k_m",
      "--from",
      model.path,
      "--allow-unverified",
      "--ignore-fit",
      "--json",
    );
    assert.equal(wrongShape.code, 1);
    const shapeError = wrongShape.json.error as { code: string; message: string };
    assert.equal(shapeError.code, "E_MODEL_MISMATCH");
    assert.match(shapeError.message, /layers 2, expected 22; embeddingLength 128, expected 2048/);
    assert.match(shapeError.message, /kept aside at .*\.partial\/.*\.corrupt/);
    assert.equal(existsSync(join(storeDirectory, base)), false, "a wrong file never lands where it would be loaded");
    assert.equal((await run("rm", "tinyllama-1.1b-base:q4_k_m", "--json")).code, 0);
  });

  it("info NAME and info PATH report the GGUF header and the memory fit", async () => {
    const byName = await run("info", "tinyllamad-test:tiny", "--json");
    assert.equal(byName.code, 0, byName.stderr);
    const inspection = byName.json.inspection as Record<string, unknown>;
    assert.equal(inspection.architecture, "llama");
    assert.equal(inspection.vocabularySize, 32000);
    assert.equal((byName.json.fit as { fits: boolean }).fits, true);
    const byPath = await run("info", model.path, "--json");
    assert.equal((byPath.json.inspection as { architecture: string }).architecture, "llama");
    assert.equal(byPath.json.fit, null);
    const q8 = await run("info", "tinyllama-1.1b-chat:q8_0", "--json");
    const fit = q8.json.fit as { fits: boolean; suggestions: string[] };
    assert.equal(fit.fits, false);
    assert.ok(fit.suggestions.includes("tinyllama-1.1b-chat:q4_k_m"));
    const human = await run("info", "tinyllama-1.1b-chat:q8_0");
    assert.match(human.stdout, /does not fit this board/);
    assert.match(human.stdout, /sha256 a4c9bb1dbaa372f6.* \(high confidence\)/);
    assert.match(
      human.stdout,
      /resolve\/52e7645ba7c309695bec7ac98f4f005b139cf465\/tinyllama-1\.1b-chat-v1\.0\.Q8_0\.gguf/,
    );
    const medium = await run("info", "tinyllama-1.1b-chat:q5_k_m");
    assert.match(medium.stdout, /sha256 aa54a5fb99ace5b9.* \(MEDIUM confidence/);
    const mediumJson = await run("info", "tinyllama-1.1b-chat:q5_k_m", "--json");
    assert.equal((mediumJson.json.catalog as { sha256Confidence: string }).sha256Confidence, "medium");
  });

  it("verify passes an intact file and moves a corrupted one aside (exit 1)", async () => {
    const ok = await run("verify", "--json");
    assert.equal(ok.code, 0);
    assert.deepEqual(
      (ok.json.results as { fileName: string; result: string }[]).map((r) => [r.fileName, r.result]),
      [[fileName, "verified"]],
    );
    const handle = await open(join(storeDirectory, fileName), "r+");
    await handle.write(Buffer.from([0x55]), 0, 1, 5000);
    await handle.close();
    const bad = await run("verify", "tinyllamad-test:tiny", "--json");
    assert.equal(bad.code, 1);
    const [result] = bad.json.results as { result: string; movedTo: string }[];
    assert.equal(result?.result, "mismatch");
    assert.equal(existsSync(join(storeDirectory, fileName)), false, "a corrupted file does not stay looking complete");
    assert.equal(readFileSync(result?.movedTo ?? "").length, model.body.length);
    const listed = await run("list", "--json");
    assert.deepEqual(listed.json.models, []);
  });

  it("rm deletes the model, and rm of an absent model is a clear error", async () => {
    assert.equal((await run("pull", "tinyllamad-test:tiny", "--from", model.path, "--json")).code, 0);
    const removed = await run("rm", "tinyllamad-test:tiny", "--json");
    assert.equal(removed.code, 0);
    assert.ok((removed.json.removed as string[]).includes(join(storeDirectory, fileName)));
    assert.deepEqual((await run("list", "--json")).json.models, []);
    const again = await run("rm", "tinyllamad-test:tiny", "--json");
    assert.equal(again.code, 1);
    assert.equal((again.json.error as { code: string }).code, "E_MODEL_NOT_IN_STORE");
  });

  it("pull and list show a medium-confidence catalog digest as such", async () => {
    const pulled = await run("pull", "tinyllamad-test:medium", "--from", model.path);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.match(pulled.stdout, /sha256 verified against a MEDIUM-confidence catalog digest/);
    const listed = await run("list");
    assert.match(
      listed.stdout,
      /tinyllamad-test:medium .* verified +tinyllamad-test-medium\.gguf {2}\(catalog digest: medium confidence\)/,
    );
    const json = await run("list", "--json");
    const medium = (json.json.models as { name: string; sha256Confidence: string }[]).find(
      (m) => m.name === "tinyllamad-test:medium",
    );
    assert.equal(medium?.sha256Confidence, "medium");
    assert.equal((await run("rm", "tinyllamad-test:medium")).code, 0);
  });

  it("unknown model names and bad usage give clear errors", async () => {
    const unknown = await run("pull", "no-such-model", "--json");
    assert.equal(unknown.code, 1);
    assert.equal((unknown.json.error as { code: string }).code, "E_MODEL_UNKNOWN");
    assert.equal((await run("frobnicate")).code, 2);
    assert.equal((await run("pull")).code, 2);
  });
});
