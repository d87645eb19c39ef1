/**
 * The HTTP APIs share the daemon's door rules: the bearer token (http.token), the one scheduler's queue
 * limit (429 with Retry-After, the E_ code in the body) and cancel when the client goes away.
 */
import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { Ollama } from "ollama";
import OpenAI from "openai";
import { daemonForSuite } from "../support/daemonForSuite.js";
import { testDaemonFlags } from "../support/testDaemonFlags.js";

const token = "http-api-test-token";
const model = "tiny-q8_0-seed1";
const messages = [{ role: "user" as const, content: "Talk about the weather for a long time." }];

describe("HTTP APIs: token, queue limit, disconnect", () => {
  const { daemon, url } = daemonForSuite(
    testDaemonFlags({
      "model.contextSize": "512",
      "backend.threads": "2",
      "scheduler.parallelSequences": "1",
      "scheduler.maxQueue": "1",
      "http.token": token,
    }),
  );
  let base = "";

  before(async () => {
    base = url().replace("ws://", "http://");
  });

  it("refuses a bad or missing token with 401 in each API's shape", async () => {
    const openai = new OpenAI({ apiKey: "wrong", baseURL: `${base}v1`, maxRetries: 0 });
    const error = await openai.models.list().then(
      () => assert.fail("accepted"),
      (caught: unknown) => caught,
    );
    assert.ok(error instanceof OpenAI.AuthenticationError, String(error));
    assert.equal(error.code, "E_UNAUTHORIZED");
    const ollama = new Ollama({ host: base.replace(/\/$/, "") });
    const refused = await ollama.list().then(
      () => assert.fail("accepted"),
      (caught: unknown) => caught as { status_code: number },
    );
    assert.equal(refused.status_code, 401);
    const good = new Ollama({ host: base.replace(/\/$/, ""), headers: { Authorization: `Bearer ${token}` } });
    assert.equal((await good.list()).models.length, 1);
  });

  it("answers 429 with Retry-After when the queue is full, and cancels a request whose client went away", async () => {
    // Each `user` is its own client of the scheduler, so the three requests meet the shared limit
    // (one running, one queued), not one client's share of it.
    const openai = new OpenAI({ apiKey: token, baseURL: `${base}v1`, maxRetries: 0 });
    const running = new AbortController();
    const stream = await openai.chat.completions.create(
      { model, messages, max_tokens: 400, temperature: 0, stream: true, user: "npc-a" },
      { signal: running.signal },
    );
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next(); // generating: it holds the one sequence
    const queued = new AbortController();
    const waiting = openai.chat.completions
      .create({ model, messages, max_tokens: 4, user: "npc-b" }, { signal: queued.signal })
      .catch((error: unknown) => error);
    // The queued request must reach the scheduler before the next one is judged.
    await waitForQueued(base);
    const response = await fetch(`${base}v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ model, messages, max_tokens: 4, user: "npc-c" }),
    });
    assert.equal(response.status, 429);
    assert.ok(Number(response.headers.get("retry-after")) > 0);
    const body = (await response.json()) as { error: { code: string; type: string; message: string } };
    assert.equal(body.error.code, "E_QUEUE_FULL");
    assert.match(
      body.error.message,
      /the queue is full/,
      "the shared queue, not one client's share: `user` names the client",
    );
    assert.equal(body.error.type, "rate_limit_error");
    queued.abort();
    running.abort();
    await waiting;
    const cancelled = await daemon.waitForLog(
      (line) => line.msg === "request finished" && line.outcome === "cancelled",
    );
    assert.equal(cancelled.outcome, "cancelled");
  });
});

/** Until the scheduler reports one request waiting (the metrics' queue depth). */
async function waitForQueued(base: string): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt += 1) {
    const health = (await (
      await fetch(`${base}healthz`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as { queue?: { queued: number } };
    if ((health.queue?.queued ?? 0) >= 1) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.fail("the second request never reached the queue");
}
