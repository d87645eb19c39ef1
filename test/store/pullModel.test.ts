import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { before, describe, it } from "node:test";
import type { ModelStoreError } from "../../models/store/ModelStoreError.js";
import { pullModel } from "../../models/store/pullModel.js";
import { startModelFileServer } from "./modelFileServer.js";
import { scratchStores } from "./scratchStores.js";
import { type TestModel, testModel } from "./testCatalogEntry.js";

const fastRetry = { attempts: 8, initialDelayMs: 5, maxDelayMs: 20, factor: 2 };

function hasCode(code: string) {
  return (error: unknown) => {
    assert.equal((error as ModelStoreError).code, code, String(error));
    return true;
  };
}

describe("pullModel against a local HTTP server", () => {
  let model: TestModel;
  const newStore = scratchStores("tinyllamad-pull-");

  before(() => {
    model = testModel();
  });

  it("resumes a download cut at random offsets and ends with the right sha256", async () => {
    const size = model.body.length;
    const cuts = [0, 1, 2].map((i) => Math.floor(((i + Math.random()) / 3) * (size - 2)) + 1).sort((a, b) => a - b);
    const server = await startModelFileServer({
      fileName: "tinyllamad-test-tiny.gguf",
      body: model.body,
      cutAtOffsets: cuts,
    });
    try {
      const store = await newStore();
      const retries: string[] = [];
      const result = await pullModel({
        entry: model.entry([server.fileUrl]),
        store,
        retry: fastRetry,
        onRetry: ({ reason }) => retries.push(reason),
      });
      assert.equal(result.sha256, model.sha256, `cuts at ${cuts.join(", ")}`);
      assert.equal(result.verified, true);
      assert.equal(result.attempts, 4);
      assert.equal(retries.length, 3);
      assert.deepEqual(readFileSync(result.path), model.body);
      // each retry asks for the bytes after what arrived before the cut (bytes in flight when the
      // socket was destroyed may be lost, so the offset can be a little below the cut)
      const offsets = server.requests.map((r) =>
        r.range === undefined ? 0 : Number(/^bytes=(\d+)-$/.exec(r.range)?.[1]),
      );
      assert.equal(offsets.length, 4);
      assert.equal(offsets[0], 0);
      for (let i = 1; i < offsets.length; i++) {
        assert.ok(
          (offsets[i] as number) > 0 && (offsets[i] as number) <= (cuts[i - 1] as number),
          `resume ${i} at ${offsets[i]}, cut at ${cuts[i - 1]}`,
        );
      }
      assert.equal(existsSync(store.partialPath(result.fileName)), false);
      assert.equal((await store.storedFile(result.fileName))?.status, "verified");
    } finally {
      await server.close();
    }
  });

  it("a later pull resumes an interrupted one, re-hashing the part already on disk", async () => {
    const cut = Math.floor(model.body.length * 0.6);
    const server = await startModelFileServer({
      fileName: "tinyllamad-test-tiny.gguf",
      body: model.body,
      cutAtOffsets: [cut],
    });
    try {
      const store = await newStore();
      const entry = model.entry([server.fileUrl]);
      await assert.rejects(
        pullModel({ entry, store, retry: { ...fastRetry, attempts: 1 } }),
        hasCode("E_DOWNLOAD_FAILED"),
      );
      const partBytes = readFileSync(store.partialPath(entry.fileName)).length;
      assert.ok(partBytes > 0 && partBytes <= cut, `${partBytes} bytes kept of ${cut} sent before the cut`);
      assert.equal(
        existsSync(store.completePath(entry.fileName)),
        false,
        "an interrupted download never looks complete",
      );
      const partInfo = JSON.parse(await readFile(store.partialInfoPath(entry.fileName), "utf8"));
      assert.equal(partInfo.url, server.fileUrl);
      assert.equal(partInfo.expectedSizeBytes, model.body.length);
      assert.equal(partInfo.etag, '"test-model-v1"');
      const result = await pullModel({ entry, store, retry: fastRetry });
      assert.equal(result.resumedFromBytes, partBytes);
      assert.equal(result.sha256, model.sha256);
      assert.equal(server.requests.at(-1)?.range, `bytes=${partBytes}-`);
    } finally {
      await server.close();
    }
  });

  it("a corrupted byte fails sha256: E_CHECKSUM_MISMATCH, moved aside, never complete", async () => {
    const corrupted = Buffer.from(model.body);
    const at = Math.floor(corrupted.length / 2);
    corrupted[at] = (corrupted[at] as number) ^ 0xff;
    const server = await startModelFileServer({ fileName: "tinyllamad-test-tiny.gguf", body: corrupted });
    try {
      const store = await newStore();
      const entry = model.entry([server.fileUrl]);
      await assert.rejects(pullModel({ entry, store, retry: fastRetry }), hasCode("E_CHECKSUM_MISMATCH"));
      assert.equal(existsSync(store.completePath(entry.fileName)), false);
      assert.equal(existsSync(store.partialPath(entry.fileName)), false);
      assert.deepEqual(readFileSync(store.corruptPath(entry.fileName)), corrupted);
      assert.deepEqual((await store.list()).files, []);
    } finally {
      await server.close();
    }
  });

  it("a server without Range support: the retry restarts cleanly from byte 0", async () => {
    const cut = Math.floor(model.body.length / 3);
    const server = await startModelFileServer({
      fileName: "tinyllamad-test-tiny.gguf",
      body: model.body,
      supportsRange: false,
      cutAtOffsets: [cut],
    });
    try {
      const store = await newStore();
      const result = await pullModel({ entry: model.entry([server.fileUrl]), store, retry: fastRetry });
      assert.equal(result.sha256, model.sha256);
      assert.deepEqual(
        server.requests.map((r) => r.status),
        [200, 200],
      );
      assert.equal(server.requests[0]?.range, undefined);
      assert.match(
        server.requests[1]?.range ?? "",
        /^bytes=\d+-$/,
        "the retry asked for a range and got the whole file",
      );
      assert.deepEqual(readFileSync(result.path), model.body);
    } finally {
      await server.close();
    }
  });

  it("404 gives E_MODEL_NOT_FOUND_UPSTREAM without retrying", async () => {
    const server = await startModelFileServer({ fileName: "something-else.gguf", body: model.body });
    try {
      const store = await newStore();
      await assert.rejects(
        pullModel({
          entry: model.entry([server.fileUrl.replace("something-else", "missing")]),
          store,
          retry: fastRetry,
        }),
        (error: ModelStoreError) => {
          assert.equal(error.code, "E_MODEL_NOT_FOUND_UPSTREAM");
          assert.match(error.message, /404/);
          return true;
        },
      );
      assert.equal(server.requests.length, 1);
    } finally {
      await server.close();
    }
  });

  it("too little free disk space gives E_DISK_FULL before anything is downloaded (free space injected)", async () => {
    const server = await startModelFileServer({ fileName: "tinyllamad-test-tiny.gguf", body: model.body });
    try {
      const store = await newStore();
      await assert.rejects(
        pullModel({ entry: model.entry([server.fileUrl]), store, freeBytes: async () => 5_000_000 }),
        (error: ModelStoreError) => {
          assert.equal(error.code, "E_DISK_FULL");
          assert.match(error.message, /not enough disk space .* needed .* 5\.0 MB free/);
          return true;
        },
      );
      assert.equal(server.requests.length, 0);
    } finally {
      await server.close();
    }
  });

  it("refuses a model without a known sha256 unless allowed, and then records it as unverified", async () => {
    const server = await startModelFileServer({ fileName: "tinyllamad-test-tiny.gguf", body: model.body });
    try {
      const store = await newStore();
      const entry = model.entry([server.fileUrl], { sha256: null, sizeBytes: null });
      await assert.rejects(pullModel({ entry, store }), hasCode("E_CHECKSUM_UNKNOWN"));
      assert.equal(server.requests.length, 0);
      const result = await pullModel({ entry, store, allowUnverified: true });
      assert.equal(result.verified, false);
      assert.equal(result.sha256, model.sha256);
      const stored = await store.storedFile(entry.fileName);
      assert.equal(stored?.status, "unverified");
      assert.equal(stored?.record?.trusted, false);
    } finally {
      await server.close();
    }
  });

  it("pulls from a site mirror (<mirror>/<file>) and from a local file path", async () => {
    const server = await startModelFileServer({ fileName: "tinyllamad-test-tiny.gguf", body: model.body });
    try {
      const upstreamThatMustNotBeUsed = "http://127.0.0.1:9/nowhere/tinyllamad-test-tiny.gguf";
      const viaMirror = await pullModel({
        entry: model.entry([upstreamThatMustNotBeUsed]),
        store: await newStore(),
        mirrorUrl: `${server.baseUrl}/`,
        retry: fastRetry,
      });
      assert.equal(viaMirror.url, server.fileUrl);
      assert.equal(viaMirror.sha256, model.sha256);
      const fromFile = await pullModel({ entry: model.entry([]), store: await newStore(), from: model.path });
      assert.equal(fromFile.sha256, model.sha256);
      assert.match(fromFile.url ?? "", /^file:\/\//);
    } finally {
      await server.close();
    }
  });

  it("two concurrent pulls in one process: the second waits for the first and sees the complete file", async () => {
    const server = await startModelFileServer({
      fileName: "tinyllamad-test-tiny.gguf",
      body: model.body,
      throttle: { chunkBytes: 1024 * 1024, delayMs: 30 },
    });
    try {
      const store = await newStore();
      const entry = model.entry([server.fileUrl]);
      const waitedFor: (number | null)[] = [];
      const results = await Promise.all([
        pullModel({ entry, store, lockPollMs: 20, onWaiting: (pid) => waitedFor.push(pid) }),
        pullModel({ entry, store, lockPollMs: 20, onWaiting: (pid) => waitedFor.push(pid) }),
      ]);
      assert.deepEqual(
        results.map((r) => r.alreadyPresent).sort(),
        [false, true],
        "one downloaded, the other found the complete file",
      );
      assert.deepEqual(waitedFor, [process.pid], "the waiting pull saw the lock held by this pid");
      assert.equal(server.requests.length, 1, "the file was downloaded once");
      for (const result of results) assert.equal(result.sha256, model.sha256);
      assert.deepEqual(readFileSync(store.completePath(entry.fileName)), model.body);
    } finally {
      await server.close();
    }
  });

  it("two concurrent pulls in two processes do not corrupt the file", async () => {
    const server = await startModelFileServer({
      fileName: "tinyllamad-test-tiny.gguf",
      body: model.body,
      throttle: { chunkBytes: 1024 * 1024, delayMs: 40 },
    });
    try {
      const store = await newStore();
      const entry = model.entry([server.fileUrl]);
      const pullModule = new URL("../../models/store/pullModel.js", import.meta.url).href;
      const storeModule = new URL("../../models/store/ModelStore.js", import.meta.url).href;
      const script = `
        const { pullModel } = await import(${JSON.stringify(pullModule)});
        const { ModelStore } = await import(${JSON.stringify(storeModule)});
        const [entry, directory] = JSON.parse(process.argv[1]);
        const result = await pullModel({ entry, store: new ModelStore(directory), lockPollMs: 20,
          onWaiting: (pid) => console.log(JSON.stringify({ waitingFor: pid })) });
        console.log(JSON.stringify(result));`;
      const child = spawn(
        process.execPath,
        ["--input-type=module", "-e", script, JSON.stringify([entry, store.directory])],
        {
          stdio: ["ignore", "pipe", "inherit"],
        },
      );
      let childOutput = "";
      child.stdout.on("data", (data) => {
        childOutput += data;
      });
      const childExit = new Promise<number | null>((resolve) => child.on("exit", resolve));
      // start ours once the child holds the lock or is downloading
      while (!existsSync(store.lockPath(entry.fileName)) && !existsSync(store.completePath(entry.fileName))) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const waitedFor: (number | null)[] = [];
      const ours = await pullModel({ entry, store, lockPollMs: 20, onWaiting: (pid) => waitedFor.push(pid) });
      assert.equal(await childExit, 0);
      const theirs = JSON.parse(childOutput.trim().split("\n").at(-1) as string);
      assert.equal(theirs.sha256, model.sha256);
      assert.equal(ours.sha256, model.sha256);
      assert.deepEqual(waitedFor, [child.pid], "ours reported the other process's pid");
      assert.equal(ours.alreadyPresent, true);
      assert.equal(server.requests.length, 1);
      assert.deepEqual(readFileSync(store.completePath(entry.fileName)), model.body);
    } finally {
      await server.close();
    }
  });

  it("takes over a stale lock left by a process that died", async () => {
    const server = await startModelFileServer({ fileName: "tinyllamad-test-tiny.gguf", body: model.body });
    try {
      const store = await newStore();
      const entry = model.entry([server.fileUrl]);
      const dead = spawn(process.execPath, ["-e", ""]);
      await new Promise((resolve) => dead.on("exit", resolve));
      await store.ensureLayout();
      await writeFile(store.lockPath(entry.fileName), `${dead.pid} stale\n`);
      const result = await pullModel({ entry, store, lockWaitMs: 1000 });
      assert.equal(result.sha256, model.sha256);
      assert.equal(existsSync(store.lockPath(entry.fileName)), false, "the lock is released afterwards");
    } finally {
      await server.close();
    }
  });

  it("waits for a live holder only as long as allowed: E_STORE_LOCKED names the pid", async () => {
    const store = await newStore();
    const entry = model.entry([]);
    const lock = await store.lock(entry.fileName);
    try {
      await assert.rejects(pullModel({ entry, store, lockWaitMs: 50, lockPollMs: 10 }), (error: ModelStoreError) => {
        assert.equal(error.code, "E_STORE_LOCKED");
        assert.match(error.message, new RegExp(`pid ${process.pid}`));
        return true;
      });
    } finally {
      await lock.release();
    }
  });
});
