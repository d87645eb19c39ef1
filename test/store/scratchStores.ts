/**
 * Fresh model stores for one suite: registers a scratch directory made before the suite and removed
 * after it, and returns a function that makes a new, empty store inside it for each test.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { ModelStore } from "../../models/store/ModelStore.js";

export function scratchStores(prefix: string): () => Promise<ModelStore> {
  let root = "";
  let counter = 0;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), prefix));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });
  return async () => new ModelStore(await mkdtemp(join(root, `store-${counter++}-`)));
}
