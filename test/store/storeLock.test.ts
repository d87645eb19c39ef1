import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { ModelStoreError } from "../../models/store/ModelStoreError.js";
import { currentBootId, processStartTime } from "../../models/store/processIdentity.js";
import { acquireFileLock } from "../../models/store/storeLock.js";

const linux = currentBootId() !== undefined;

describe("store lock staleness survives pid reuse (boot id + process start time)", () => {
  let root: string;
  let counter = 0;
  const lockPath = () => join(root, `file-${counter++}.lock`);

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "tinyllamad-lock-"));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("writes the holder's pid, boot id and start time into the lock", { skip: !linux }, async () => {
    const path = lockPath();
    const lock = await acquireFileLock(path, { waitMs: 0 });
    try {
      const content = await readFile(path, "utf8");
      assert.match(
        content,
        new RegExp(`^${process.pid} \\S+ boot=${currentBootId()} start=${processStartTime(process.pid)}\\n$`),
      );
    } finally {
      await lock.release();
    }
    assert.equal(existsSync(path), false, "released");
  });

  it("takes over at once a lock from an earlier boot, though its pid is alive now (this test runner's)", async () => {
    const path = lockPath();
    await writeFile(path, `${process.pid} old-token boot=00000000-dead-boot-0000-000000000000 start=1234\n`);
    const waited: (number | null)[] = [];
    const lock = await acquireFileLock(path, { waitMs: 0, onWaiting: (pid) => waited.push(pid) });
    try {
      assert.deepEqual(waited, [], "it did not wait for the stranger");
      assert.doesNotMatch(await readFile(path, "utf8"), /old-token/, "the lock is ours now");
    } finally {
      await lock.release();
    }
  });

  it("takes over a lock whose pid was reused in this boot by a process started at another time", {
    skip: !linux,
  }, async () => {
    const path = lockPath();
    const ownStart = Number(processStartTime(process.pid));
    await writeFile(path, `${process.pid} old-token boot=${currentBootId()} start=${ownStart + 1}\n`);
    const lock = await acquireFileLock(path, { waitMs: 0 });
    try {
      assert.doesNotMatch(await readFile(path, "utf8"), /old-token/);
    } finally {
      await lock.release();
    }
  });

  it("respects a live holder: same boot, same pid, same start time", async () => {
    const path = lockPath();
    const held = await acquireFileLock(path, { waitMs: 0 });
    try {
      await assert.rejects(acquireFileLock(path, { waitMs: 0 }), (error: ModelStoreError) => {
        assert.equal(error.code, "E_STORE_LOCKED");
        assert.match(error.message, new RegExp(`pid ${process.pid}`));
        return true;
      });
    } finally {
      await held.release();
    }
  });

  it("judges an older lock without boot id or start time by its pid alone (a live pid is respected)", async () => {
    const path = lockPath();
    await writeFile(path, `${process.pid} legacy-token\n`);
    await assert.rejects(acquireFileLock(path, { waitMs: 30, pollMs: 10 }), (error: ModelStoreError) => {
      assert.equal(error.code, "E_STORE_LOCKED");
      return true;
    });
    assert.match(await readFile(path, "utf8"), /legacy-token/, "left in place");
  });

  it("reads the start time past a command name holding spaces and parentheses", async () => {
    const procRoot = join(root, "proc");
    await mkdir(join(procRoot, "4242"), { recursive: true });
    const fields = ["S", ...Array.from({ length: 18 }, (_, i) => String(i + 4)), "987654", "23", "24"];
    await writeFile(join(procRoot, "4242", "stat"), `4242 (evil ) name) ${fields.join(" ")}\n`);
    assert.equal(processStartTime(4242, procRoot), "987654");
    assert.equal(processStartTime(4243, procRoot), undefined, "no such process");
  });
});
