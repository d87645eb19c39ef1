/**
 * Which files an admin swap_model may load (resolveSwapModelPath), the last check before loading
 * (assertGgufModelFile) and the swap's time limit (settleWithin), on real files, symlinks and FIFOs.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { assertGgufModelFile } from "../../daemon/admin/assertGgufModelFile.js";
import { resolveSwapModelPath } from "../../daemon/admin/resolveSwapModelPath.js";
import { settleWithin } from "../../daemon/admin/settleWithin.js";

const scratch = mkdtempSync(join(tmpdir(), "tinyllamad-swap-path-"));
after(() => rmSync(scratch, { recursive: true, force: true }));
const store = join(scratch, "store");
const extra = join(scratch, "extra");
const outside = join(scratch, "outside");
for (const directory of [store, join(store, ".partial"), join(store, "sub"), extra, outside])
  mkdirSync(directory, { recursive: true });
const gguf = Buffer.concat([Buffer.from("GGUF"), Buffer.alloc(60)]);
writeFileSync(join(store, "good.gguf"), gguf);
writeFileSync(join(store, ".partial", "half.gguf.part"), gguf);
writeFileSync(join(extra, "extra.gguf"), gguf);
writeFileSync(join(outside, "secret.gguf"), "TOP-SECRET bytes that must never be quoted");
symlinkSync(join(outside, "secret.gguf"), join(store, "escape.gguf"));
symlinkSync(join(extra, "extra.gguf"), join(store, "to-extra.gguf"));
execFileSync("mkfifo", [join(store, "pipe.gguf")]);
const roots = { storeDirectory: store, modelDirectories: [] as string[] };

async function refusal(path: string, options = roots): Promise<string> {
  try {
    await resolveSwapModelPath(path, options);
  } catch (error) {
    assert.equal((error as { code?: string }).code, "E_BAD_REQUEST", String(error));
    assert.ok(!(error as Error).message.includes("TOP-SECRET"));
    return (error as Error).message;
  }
  assert.fail(`accepted ${path}`);
}

describe("resolveSwapModelPath", () => {
  it("accepts a store file by absolute path or by its bare name, resolved to its real path", async () => {
    assert.ok((await resolveSwapModelPath(join(store, "good.gguf"), roots)).endsWith("/store/good.gguf"));
    assert.ok((await resolveSwapModelPath("good.gguf", roots)).endsWith("/store/good.gguf"));
  });

  it("refuses relative paths, '..', empty paths and NUL", async () => {
    assert.match(await refusal("sub/good.gguf"), /absolute path/);
    assert.match(await refusal("./good.gguf"), /absolute path/);
    assert.match(await refusal("../outside/secret.gguf"), /absolute path/);
    assert.match(await refusal(".."), /absolute path/);
    assert.match(await refusal(`${store}/../store/good.gguf`), /'\.\.'/);
    assert.match(await refusal(""), /non-empty/);
    assert.match(await refusal(`${store}/good.gguf\0x`), /NUL/);
  });

  it("refuses files outside the store, also through a symlink in the store", async () => {
    assert.match(await refusal(join(outside, "secret.gguf")), /outside the model store/);
    assert.match(await refusal(join(store, "escape.gguf")), /outside the model store/);
    assert.match(await refusal("escape.gguf"), /outside the model store/);
    assert.match(await refusal(join(extra, "extra.gguf")), /outside the model store/);
  });

  it("accepts files under admin.modelDirectories, directly or through a store symlink", async () => {
    const withExtra = { storeDirectory: store, modelDirectories: [extra] };
    assert.ok((await resolveSwapModelPath(join(extra, "extra.gguf"), withExtra)).endsWith("/extra/extra.gguf"));
    assert.ok((await resolveSwapModelPath(join(store, "to-extra.gguf"), withExtra)).endsWith("/extra/extra.gguf"));
    assert.match(await refusal(join(outside, "secret.gguf"), withExtra), /outside/);
  });

  it("refuses FIFOs, directories, missing files and the store's partial downloads without opening them", async () => {
    assert.match(await refusal(join(store, "pipe.gguf")), /not a regular file/);
    assert.match(await refusal("pipe.gguf"), /not a regular file/);
    assert.match(await refusal(join(store, "sub")), /not a regular file/);
    assert.match(await refusal(store), /outside/);
    // Missing: said as such only inside the allowed directories (no oracle for files elsewhere).
    await assert.rejects(resolveSwapModelPath(join(store, "missing.gguf"), roots), { name: "ModelMissingError" });
    await assert.rejects(resolveSwapModelPath("missing.gguf", roots), { name: "ModelMissingError" });
    assert.match(await refusal(join(outside, "missing.gguf")), /outside the model store/);
    assert.match(await refusal(join(store, ".partial", "half.gguf.part")), /not a complete model/);
  });
});

describe("assertGgufModelFile", () => {
  it("passes a regular file with the GGUF magic", async () => {
    await assertGgufModelFile(join(store, "good.gguf"));
  });

  it("refuses other content with a fixed message that quotes none of it", async () => {
    await assert.rejects(assertGgufModelFile(join(outside, "secret.gguf")), (error: Error & { code?: string }) => {
      assert.equal(error.code, "E_BAD_REQUEST");
      assert.equal(error.message, "model_path is not a GGUF model file");
      return true;
    });
  });

  it("refuses a FIFO (no writer: a blocking open would hang) and a symlink", async () => {
    await assert.rejects(assertGgufModelFile(join(store, "pipe.gguf")), /not a regular file/);
    await assert.rejects(assertGgufModelFile(join(store, "escape.gguf")), /cannot be opened as a regular file/);
  });
});

describe("settleWithin", () => {
  it("returns the work's value when it comes in time", async () => {
    assert.deepEqual(await settleWithin(Promise.resolve(7), 60_000, () => assert.fail("not late")), {
      done: true,
      value: 7,
    });
  });

  it("gives up at the limit and hands a late value to onLate, a late failure to nobody", async () => {
    let finish: (value: string) => void = () => {};
    const late: string[] = [];
    const outcome = await settleWithin(
      new Promise<string>((resolve) => {
        finish = resolve;
      }),
      1,
      (value) => late.push(value),
    );
    assert.deepEqual(outcome, { done: false });
    finish("loaded");
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(late, ["loaded"]);
    let fail: (error: Error) => void = () => {};
    const failing = new Promise<string>((_resolve, reject) => {
      fail = reject;
    });
    assert.deepEqual(await settleWithin(failing, 1, () => assert.fail("no value")), { done: false });
    fail(new Error("late failure")); // handled inside: no unhandledRejection ends the test run
    await new Promise((resolve) => setImmediate(resolve));
  });
});
