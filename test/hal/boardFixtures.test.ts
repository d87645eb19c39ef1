/**
 * The committed board fixture trees are exactly what makeBoardFixtures.ts writes (so they cannot drift
 * from their generator), and their device-tree files hold real NUL bytes.
 */
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, describe, it } from "node:test";
import {
  boardFixtureNames,
  boardFixtureRoot,
  boardFixtures,
  writeBoardFixture,
} from "../fixtures/boards/makeBoardFixtures.js";

async function listFiles(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => relative(directory, join(entry.parentPath, entry.name)))
    .sort();
}

describe("board fixture trees", () => {
  const scratch = mkdtemp(join(tmpdir(), "tinyllamad-boards-"));
  after(async () => rm(await scratch, { recursive: true, force: true }));

  for (const name of boardFixtureNames) {
    it(`${name}: the committed tree equals the generator's output`, async () => {
      const generated = join(await scratch, name);
      await writeBoardFixture(boardFixtures[name], generated);
      const committedFiles = await listFiles(boardFixtureRoot(name));
      assert.deepEqual(committedFiles, await listFiles(generated), "same files (run makeBoardFixtures.js to update)");
      for (const file of committedFiles) {
        const committed = await readFile(join(boardFixtureRoot(name), file));
        assert.ok(
          committed.equals(await readFile(join(generated, file))),
          `${name}/${file} differs from the generator`,
        );
      }
    });
  }

  it("device-tree strings are NUL-terminated and NUL-separated on disk", async () => {
    const compatible = await readFile(join(boardFixtureRoot("opi5-npu"), "proc/device-tree/compatible"));
    assert.deepEqual([...compatible].filter((byte) => byte === 0).length, 2);
    assert.equal(compatible.at(-1), 0);
    assert.equal(compatible.toString("latin1"), "rockchip,rk3588s-orangepi-5\0rockchip,rk3588\0");
    const model = await readFile(join(boardFixtureRoot("rpi4-4gb"), "proc/device-tree/model"));
    assert.equal(model.toString("latin1"), "Raspberry Pi 4 Model B Rev 1.5\0");
  });
});
