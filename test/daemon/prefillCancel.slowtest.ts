/**
 * Slow (npm run test:slow): on the full-size TinyLlama-1.1B shape, a cancel and a deadline end a
 * ~1,500-token prefill within one chunk (512 tokens, the batch size): the final answer comes with
 * fewer prompt tokens evaluated than the prompt has. Judged by token counts, not by time.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DaemonProcess } from "../../harness/DaemonProcess.js";
import { ProtocolClient } from "../../harness/ProtocolClient.js";
import { testDaemonFlags } from "../support/testDaemonFlags.js";
import { testModelPath } from "../support/testModels.js";

const chunk = 512;
/** ~1,500 tokens: " word" is one token; the tag keeps each prompt's prefix its own. */
const longPrompt = (tag: string) => `${tag}:${" word".repeat(1500)}`;

describe("a long prefill on the full-size model", () => {
  const daemon = new DaemonProcess(
    testDaemonFlags({
      "model.path": testModelPath("tinyllama-1.1b", "q4_0"),
      "model.contextSize": 2048,
      "scheduler.parallelSequences": 1,
      "log.level": "debug",
    }),
  );
  let client: ProtocolClient;
  /** How long the first chunk of the cancelled request took, to aim the deadline inside a prefill. */
  let firstChunkMs = 0;
  before(async () => {
    client = await ProtocolClient.connect(await daemon.start(300_000));
  });
  after(async () => {
    await client.close();
    assert.equal((await daemon.stop()).code, 0);
  });

  it("ends at the end of the chunk in flight when cancelled", async () => {
    const sent = performance.now();
    const answer = client.request({ id: "cancelled", prompt: longPrompt("Cancel"), max_tokens: 8 }, 600_000);
    const progress = await daemon.waitForLog((l) => l.msg === "prefill progress" && l.id === "cancelled", 300_000);
    firstChunkMs = performance.now() - sent;
    const evaluatedAtCancel = progress.evaluated as number;
    client.send({ type: "cancel", id: "cancelled" });
    const final = (await answer).final;
    assert.equal(final.type, "done", JSON.stringify(final));
    if (final.type !== "done") return;
    assert.equal(final.finish_reason, "cancelled");
    assert.equal(final.usage.completion_tokens, 0);
    const prompt = final.usage.prompt_tokens - final.usage.cached_prompt_tokens;
    assert.ok(prompt > 1400, `a ~1,500-token prefill (${prompt})`);
    assert.ok(
      final.usage.evaluated_prompt_tokens < prompt,
      `evaluated ${final.usage.evaluated_prompt_tokens} of ${prompt}: the prefill stopped before its end`,
    );
    assert.ok(
      final.usage.evaluated_prompt_tokens <= evaluatedAtCancel + chunk,
      `evaluated ${final.usage.evaluated_prompt_tokens}, at most one chunk after the ${evaluatedAtCancel} evaluated when the cancel was sent`,
    );
  });

  it("ends with E_DEADLINE_EXCEEDED within a chunk when deadline_ms passes during the prefill", async () => {
    // Aimed at the first chunk; wherever the deadline falls, the prefill stops within the chunk in
    // flight, so the chunks it left in the sequence (reused by the next request) fall short of the prompt.
    const deadline = Math.max(50, Math.round(firstChunkMs / 2));
    const expired = await client.request(
      { id: "late", prompt: longPrompt("Deadline"), max_tokens: 8, deadline_ms: deadline },
      600_000,
    );
    assert.equal(expired.final.type === "error" && expired.final.error.code, "E_DEADLINE_EXCEEDED");
    const retry = (await client.request({ id: "retry", prompt: longPrompt("Deadline"), max_tokens: 1 }, 600_000)).final;
    assert.equal(retry.type, "done", JSON.stringify(retry));
    if (retry.type !== "done") return;
    assert.ok(
      retry.usage.cached_prompt_tokens < retry.usage.prompt_tokens - 1,
      `the expired prefill left ${retry.usage.cached_prompt_tokens} of ${retry.usage.prompt_tokens} tokens`,
    );
  });
});
