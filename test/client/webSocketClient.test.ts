/**
 * tinyllamad/client against a real daemon process: streaming with for await, the final result, cancel
 * through an AbortSignal (the daemon ends the request as cancelled), a request cut off when the daemon
 * dies, and the same client object reconnecting once the daemon is back on its port.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { TinyllamadClient, TinyllamadError } from "../../client/index.js";
import { DaemonProcess } from "../../harness/DaemonProcess.js";
import { freePort } from "../../harness/freePort.js";
import { testDaemonFlags } from "../support/testDaemonFlags.js";

const scratch = mkdtempSync(join(tmpdir(), "tinyllamad-client-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

function daemonOn(port: number): DaemonProcess {
  return new DaemonProcess(
    testDaemonFlags({
      "model.contextSize": 2048,
      "backend.threads": 1,
      "http.port": port,
      "state.directory": join(scratch, `state-${port}`),
    }),
  );
}

// Greedy (temperature 0), this request runs all 1900 tokens on the test model without an end of text
// (checked), so the long requests below are still running when they are cancelled or cut off.
const hello = { messages: [{ role: "user" as const, content: "Hello!" }] };

describe("TinyllamadClient (WebSocket, Node)", () => {
  let port = 0;
  let daemon: DaemonProcess;
  let client: TinyllamadClient;

  before(async () => {
    port = await freePort();
    daemon = daemonOn(port);
    await daemon.start();
    client = new TinyllamadClient({ url: `ws://127.0.0.1:${port}/`, connectTimeoutMs: 60_000 });
  });

  after(async () => {
    client?.close();
    await daemon?.stop();
  });

  it("streams the answer piece by piece with for await, and result has the whole text, finish_reason and usage", async () => {
    const generation = client.generate({ ...hello, max_tokens: 12, temperature: 0 });
    const pieces: string[] = [];
    for await (const piece of generation) pieces.push(piece);
    const done = await generation.result;
    assert.ok(pieces.length > 1, "more than one piece: it streamed");
    assert.equal(pieces.join(""), done.text);
    assert.equal(done.finish_reason, "length");
    assert.equal(done.usage.completion_tokens, 12);
    assert.equal(done.id, generation.id);
    const again = await client.complete({ ...hello, max_tokens: 12, temperature: 0 });
    assert.equal(again.text, done.text, "greedy: the same answer");
  });

  it("an AbortSignal cancels the request at the daemon; the iteration rejects with the signal's reason", async () => {
    const controller = new AbortController();
    const generation = client.generate({ ...hello, max_tokens: 1900, temperature: 0 }, { signal: controller.signal });
    let pieces = 0;
    await assert.rejects(
      (async () => {
        for await (const _piece of generation) if (++pieces === 3) controller.abort();
      })(),
      (error: Error) => error.name === "AbortError",
    );
    await assert.rejects(generation.result, (error: Error) => error.name === "AbortError");
    const finished = await daemon.waitForLog((line) => line.id === generation.id && line.msg === "request finished");
    assert.equal(finished.outcome, "cancelled");
    assert.ok((finished.completion_tokens as number) < 1900, "it stopped before its end");
    const next = await client.complete({ ...hello, max_tokens: 4 });
    assert.equal(next.finish_reason, "length", "the connection serves the next request");
  });

  it("an already aborted signal sends nothing; leaving the for await early cancels too", async () => {
    const generation = client.generate(hello, { signal: AbortSignal.abort() });
    await assert.rejects(generation.result, (error: Error) => error.name === "AbortError");
    const long = client.generate({ ...hello, max_tokens: 1900, temperature: 0 });
    for await (const _piece of long) break;
    const finished = await daemon.waitForLog((line) => line.id === long.id && line.msg === "request finished");
    assert.equal(finished.outcome, "cancelled");
    assert.equal(
      daemon.logLines.some((line) => line.id === generation.id),
      false,
    );
  });

  it("a request cut off by the daemon's death fails with E_CONNECTION_LOST; the same client reconnects when it is back", async () => {
    const cutOff = client.generate({ ...hello, max_tokens: 1900, temperature: 0 });
    const iterator = cutOff[Symbol.asyncIterator]();
    await iterator.next();
    daemon.signal("SIGKILL");
    await assert.rejects(cutOff.result, (error: unknown) => {
      assert.ok(error instanceof TinyllamadError);
      assert.equal(error.code, "E_CONNECTION_LOST");
      return true;
    });
    await daemon.exited();
    // Sent while nothing listens: it waits, retrying, and is answered by the daemon that comes back.
    const waiting = client.complete({ ...hello, max_tokens: 5 });
    daemon = daemonOn(port);
    await daemon.start();
    const done = await waiting;
    assert.equal(done.usage.completion_tokens, 5);
    assert.ok(client.connected);
  });
});

describe("TinyllamadClient refusals", () => {
  it("gives up with E_UNREACHABLE after connectTimeoutMs when nothing listens", async () => {
    const port = await freePort();
    const client = new TinyllamadClient({ url: `ws://127.0.0.1:${port}/`, connectTimeoutMs: 600, retryDelayMs: 100 });
    await assert.rejects(client.complete(hello), (error: unknown) => {
      assert.ok(error instanceof TinyllamadError);
      assert.equal(error.code, "E_UNREACHABLE");
      assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      return true;
    });
    client.close();
  });
});
