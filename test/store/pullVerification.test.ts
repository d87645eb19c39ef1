/**
 * The verified catalog end to end, against a real local HTTP mirror: the default model's entry refuses a
 * file that is not it (E_CHECKSUM_MISMATCH naming the expected and computed digests, the file kept aside
 * where nothing loads it), a file whose digest matches its entry is accepted, and a source that cannot be
 * reached (refused port, unresolvable host) fails on the first attempt with the next steps.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { before, describe, it } from "node:test";
import { freePort } from "../../harness/freePort.js";
import { loadModelCatalog, requireCatalogEntry } from "../../models/catalog/modelCatalog.js";
import type { ModelStore } from "../../models/store/ModelStore.js";
import type { ModelStoreError } from "../../models/store/ModelStoreError.js";
import { pullModel } from "../../models/store/pullModel.js";
import { formatEta, formatProgressLine } from "../../models/store/pullProgressRenderer.js";
import { startModelFileServer } from "./modelFileServer.js";
import { scratchStores } from "./scratchStores.js";
import { type TestModel, testModel } from "./testCatalogEntry.js";

const fastRetry = { attempts: 6, initialDelayMs: 5, maxDelayMs: 20, factor: 2 };

async function pullError(promise: Promise<unknown>): Promise<ModelStoreError> {
  try {
    await promise;
  } catch (error) {
    return error as ModelStoreError;
  }
  assert.fail("the pull succeeded");
}

describe("pulling against the verified catalog", () => {
  const catalog = loadModelCatalog();
  const defaultEntry = requireCatalogEntry(catalog, catalog.defaultModel);
  let model: TestModel;
  const newStore = scratchStores("tinyllamad-verify-");

  before(() => {
    model = testModel();
  });

  it("the default entry refuses a mirror's file of the wrong size before storing a byte", async () => {
    const server = await startModelFileServer({ fileName: defaultEntry.fileName, body: model.body });
    try {
      const store = await newStore();
      const error = await pullError(pullModel({ entry: defaultEntry, store, mirrorUrl: server.baseUrl }));
      assert.equal(error.code, "E_CHECKSUM_MISMATCH");
      assert.match(error.message, new RegExp(`${defaultEntry.sizeBytes} bytes with sha256 ${defaultEntry.sha256}`));
      assert.match(error.message, new RegExp(`serves ${model.body.length} bytes`));
      assert.equal(existsSync(store.completePath(defaultEntry.fileName)), false);
      assert.equal(existsSync(store.partialPath(defaultEntry.fileName)), false);
      assert.deepEqual((await store.list()).files, []);
    } finally {
      await server.close();
    }
  });

  it("the default entry refuses a file whose digest does not match: both digests named, the file kept aside", async () => {
    // Without Content-Length the size is known only at the end: the whole file arrives and is hashed.
    const server = await startModelFileServer({
      fileName: defaultEntry.fileName,
      body: model.body,
      omitContentLength: true,
    });
    try {
      const store = await newStore();
      const error = await pullError(pullModel({ entry: defaultEntry, store, mirrorUrl: server.baseUrl }));
      assert.equal(error.code, "E_CHECKSUM_MISMATCH");
      assert.match(error.message, new RegExp(`expected sha256 ${defaultEntry.sha256}`));
      assert.match(error.message, new RegExp(`computed sha256 ${model.sha256}`));
      assert.equal(error.details.sha256, model.sha256);
      assert.equal(error.details.expectedSha256, defaultEntry.sha256);
      const corrupt = store.corruptPath(defaultEntry.fileName);
      assert.equal(error.details.movedTo, corrupt);
      assert.deepEqual(readFileSync(corrupt), model.body, "kept aside, byte for byte, for inspection");
      assert.equal(existsSync(store.completePath(defaultEntry.fileName)), false, "never where the daemon loads");
      assert.deepEqual((await store.list()).files, []);
    } finally {
      await server.close();
    }
  });

  it("a file whose digest matches an entry made for it is accepted and stored verified", async () => {
    const server = await startModelFileServer({
      fileName: "tinyllamad-test-tiny.gguf",
      body: model.body,
      omitContentLength: true,
    });
    try {
      const store = await newStore();
      const result = await pullModel({ entry: model.entry([]), store, mirrorUrl: server.baseUrl });
      assert.equal(result.verified, true);
      assert.equal(result.sha256, model.sha256);
      assert.equal((await store.storedFile("tinyllamad-test-tiny.gguf"))?.status, "verified");
    } finally {
      await server.close();
    }
  });

  it("a refused connection fails on the first attempt, naming --mirror, --from and the exact store path", async () => {
    const port = await freePort();
    const store = await newStore();
    const retries: string[] = [];
    const error = await pullError(
      pullModel({
        entry: defaultEntry,
        store,
        mirrorUrl: `http://127.0.0.1:${port}`,
        retry: fastRetry,
        onRetry: ({ reason }) => retries.push(reason),
      }),
    );
    assert.equal(error.code, "E_SOURCE_UNREACHABLE");
    assert.match(error.message, /refused the connection/);
    assert.equal(error.details.attempts, 1);
    assert.deepEqual(retries, []);
    assertNextSteps(error.message, store, defaultEntry.name, defaultEntry.fileName);
  });

  it("an unresolvable host fails on the first attempt with the same next steps", async () => {
    const store = await newStore();
    const retries: string[] = [];
    const error = await pullError(
      pullModel({
        entry: { ...defaultEntry, urls: [`http://nonexistent.invalid/${defaultEntry.fileName}`] },
        store,
        retry: fastRetry,
        onRetry: ({ reason }) => retries.push(reason),
      }),
    );
    assert.equal(error.code, "E_SOURCE_UNREACHABLE");
    assert.match(error.message, /nonexistent\.invalid does not resolve/);
    assert.equal(error.details.attempts, 1);
    assert.deepEqual(retries, []);
    assertNextSteps(error.message, store, defaultEntry.name, defaultEntry.fileName);
  });

  it("progress lines carry the rate and the time left", () => {
    const line = formatProgressLine({
      phase: "downloading",
      fileName: defaultEntry.fileName,
      bytes: 255_000_000,
      totalBytes: 637_000_000,
      bytesPerSecond: 5_100_000,
    });
    assert.equal(line, "pulled 40 % (255/637 MB, 5.1 MB/s, 1 min 15 s left)");
    assert.equal(formatEta({ bytes: 0, totalBytes: 669_000_000, bytesPerSecond: 0 }), "time left unknown");
    assert.equal(formatEta({ bytes: 0, totalBytes: 669_000_000, bytesPerSecond: 50_000 }), "3 h 43 min left");
    assert.equal(formatEta({ bytes: 10, totalBytes: 10, bytesPerSecond: 1 }), "done");
  });
});

function assertNextSteps(message: string, store: ModelStore, name: string, fileName: string): void {
  assert.match(message, new RegExp(`tinyllamad models pull ${escapeRegExp(name)} --mirror http://MIRROR/PATH`));
  assert.match(
    message,
    new RegExp(`tinyllamad models pull ${escapeRegExp(name)} --from /path/to/${escapeRegExp(fileName)}`),
  );
  assert.match(message, new RegExp(`copy the file to exactly ${escapeRegExp(store.completePath(fileName))}`));
  assert.match(message, new RegExp(`tinyllamad models verify ${escapeRegExp(name)}`));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
