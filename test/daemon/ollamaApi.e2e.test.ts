/**
 * The Ollama-compatible API end to end: `tinyllamad serve` as its own process, the official `ollama`
 * npm client and `curl -N`, a generated test model.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { before, describe, it } from "node:test";
import { promisify } from "node:util";
import { Ollama } from "ollama";
import { daemonForSuite } from "../support/daemonForSuite.js";
import { testDaemonFlags } from "../support/testDaemonFlags.js";

const run = promisify(execFile);
const model = "tiny-q8_0-seed1:latest";
const messages: Array<{ role: string; content: string }> = [{ role: "user", content: "Tell me about the forge." }];

describe("Ollama-compatible API", () => {
  const { url } = daemonForSuite(testDaemonFlags({ "model.contextSize": "512", "backend.threads": "2" }));
  let base = "";
  let ollama: Ollama;

  before(async () => {
    base = url().replace("ws://", "http://");
    ollama = new Ollama({ host: base.replace(/\/$/, "") });
  });

  it("lists, shows and reports the loaded model", async () => {
    const list = await ollama.list();
    assert.deepEqual(
      list.models.map((entry) => entry.name),
      [model],
    );
    assert.ok((list.models[0]?.size ?? 0) > 0);
    const shown = await ollama.show({ model });
    assert.equal(shown.details.format, "gguf");
    assert.deepEqual(shown.capabilities, ["completion"]);
    const loaded = await ollama.ps();
    assert.equal(loaded.models[0]?.name, model);
    const version = await ollama.version();
    assert.match(version.version, /^\d+\.\d+\.\d+/);
  });

  it("streams a chat whose pieces add up to the whole answer, ending with done_reason and timings", async () => {
    const options = { temperature: 0, num_predict: 12, num_ctx: 2048 };
    const whole = await ollama.chat({ model, messages, options, keep_alive: "5m" });
    const stream = await ollama.chat({ model, messages, options, stream: true, keep_alive: -1 });
    let text = "";
    let last: Awaited<ReturnType<typeof ollama.chat>> | undefined;
    for await (const part of stream) {
      text += part.message.content;
      last = part;
    }
    assert.equal(text, whole.message.content);
    assert.equal(whole.message.role, "assistant");
    assert.equal(last?.done, true);
    assert.equal(last?.done_reason, "length");
    assert.equal(last?.eval_count, 12);
    assert.ok((last?.prompt_eval_count ?? 0) > 0);
    for (const field of ["total_duration", "eval_duration", "prompt_eval_duration"] as const) {
      const value = whole[field];
      assert.ok(Number.isInteger(value) && value > 0, `${field} is whole nanoseconds: ${value}`);
    }
    assert.ok(whole.total_duration >= whole.eval_duration, "the total holds the generation");
  });

  it("generates with format json and answers a load request at once", async () => {
    const answer = await ollama.generate({
      model,
      prompt: "Describe the smith.",
      format: { type: "object", properties: { mood: { enum: ["angry", "happy"] } }, required: ["mood"] },
      options: { temperature: 0, num_predict: 40 },
    });
    const { mood } = JSON.parse(answer.response ?? "") as { mood: string };
    assert.ok(mood === "angry" || mood === "happy", String(answer.response));
    const load = await ollama.generate({ model, prompt: "" });
    assert.equal(load.done_reason, "load");
  });

  it("streams NDJSON to curl -N", async () => {
    const body = JSON.stringify({ model, prompt: "Hello", options: { num_predict: 3, temperature: 0 } });
    const { stdout } = await run("curl", ["-sN", `${base}api/generate`, "-d", body]);
    const lines = stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { done: boolean; response: string; eval_count?: number });
    assert.equal(lines.length, 4);
    assert.ok(lines.slice(0, 3).every((line) => !line.done && line.response.length > 0));
    assert.equal(lines[3]?.done, true);
    assert.equal(lines[3]?.eval_count, 3);
  });

  it("refuses what it cannot honour with Ollama-shaped errors", async () => {
    const refused = async (call: Promise<unknown>) => {
      const error = await call.then(
        () => assert.fail("accepted"),
        (caught: unknown) => caught as { status_code: number; error: string },
      );
      return error;
    };
    const unknown = await refused(ollama.chat({ model: "llama3.2", messages }));
    assert.equal(unknown.status_code, 404);
    assert.match(unknown.error, /not served here/);
    const tools = await refused(
      ollama.chat({ model, messages, tools: [{ type: "function", function: { name: "x", parameters: {} } }] as never }),
    );
    assert.equal(tools.status_code, 400);
    assert.match(tools.error, /tools/);
    const mirostat = await refused(ollama.chat({ model, messages, options: { mirostat: 2 } }));
    assert.equal(mirostat.status_code, 400);
    assert.match(mirostat.error, /options\.mirostat/);
    const response = await fetch(`${base}api/chat`, { method: "POST", body: JSON.stringify({ model, messages: 3 }) });
    assert.equal(response.status, 400);
    assert.deepEqual(Object.keys((await response.json()) as object).sort(), ["code", "error"]);
  });
});
