/**
 * The OpenAI-compatible API end to end: `tinyllamad serve` as its own process, the official `openai`
 * npm client and `curl -N`, a generated test model. Greedy output must equal the WebSocket API's.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { before, describe, it } from "node:test";
import { promisify } from "node:util";
import OpenAI from "openai";
import { ProtocolClient } from "../../harness/ProtocolClient.js";
import { daemonForSuite } from "../support/daemonForSuite.js";
import { testDaemonFlags } from "../support/testDaemonFlags.js";

const run = promisify(execFile);
const model = "tiny-q8_0-seed1";
const messages = [
  { role: "system" as const, content: "You are Bram, a gruff dwarf smith." },
  { role: "user" as const, content: "What do you sell?" },
];

describe("OpenAI-compatible API", () => {
  const { url } = daemonForSuite(
    testDaemonFlags({ "model.contextSize": "512", "backend.threads": "2", "scheduler.parallelSequences": "2" }),
  );
  let wsUrl = "";
  let base = "";
  let openai: OpenAI;

  before(async () => {
    wsUrl = url();
    base = wsUrl.replace("ws://", "http://");
    openai = new OpenAI({ apiKey: "unused", baseURL: `${base}v1`, maxRetries: 0 });
  });

  it("lists the served model", async () => {
    const models = await openai.models.list();
    assert.deepEqual(
      models.data.map((entry) => entry.id),
      [model],
    );
  });

  it("answers a chat completion with usage and a fingerprint; greedy text equals the WebSocket API's", async () => {
    const completion = await openai.chat.completions.create({ model, messages, max_tokens: 24, temperature: 0 });
    const client = await ProtocolClient.connect(wsUrl);
    try {
      const answer = await client.request({ id: "ws-greedy", messages, max_tokens: 24, temperature: 0 });
      assert.equal(answer.final.type, "done", JSON.stringify(answer.final));
      if (answer.final.type !== "done") return;
      const choice = completion.choices[0];
      assert.ok(choice);
      assert.equal(choice.message.role, "assistant");
      assert.equal(choice.message.content, answer.final.text);
      assert.equal(choice.finish_reason, answer.final.finish_reason);
      assert.equal(completion.object, "chat.completion");
      assert.match(completion.system_fingerprint ?? "", /^tinyllamad-.+-cpu$/);
      assert.equal(completion.usage?.prompt_tokens, answer.final.usage.prompt_tokens);
      assert.equal(completion.usage?.completion_tokens, answer.final.usage.completion_tokens);
      assert.equal(
        completion.usage?.total_tokens,
        answer.final.usage.prompt_tokens + answer.final.usage.completion_tokens,
      );
    } finally {
      await client.close();
    }
  });

  it("streams a chat completion whose pieces add up to the whole answer, with usage at the end", async () => {
    const whole = await openai.chat.completions.create({ model, messages, max_tokens: 16, temperature: 0 });
    const stream = await openai.chat.completions.create({
      model,
      messages,
      max_tokens: 16,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined;
    let role: string | undefined;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      role ??= choice?.delta.role;
      text += choice?.delta.content ?? "";
      finish = choice?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(role, "assistant");
    assert.equal(text, whole.choices[0]?.message.content);
    assert.equal(finish, whole.choices[0]?.finish_reason);
    assert.equal(usage?.completion_tokens, whole.usage?.completion_tokens);
    assert.equal(usage?.prompt_tokens, whole.usage?.prompt_tokens);
  });

  it("holds the answer to response_format json_schema", async () => {
    const completion = await openai.chat.completions.create({
      model,
      messages,
      max_tokens: 60,
      temperature: 0,
      response_format: {
        type: "json_schema",
        json_schema: {
          name: "mood",
          strict: true,
          schema: {
            type: "object",
            properties: { mood: { enum: ["angry", "happy"] } },
            required: ["mood"],
            additionalProperties: false,
          },
        },
      },
    });
    const content = completion.choices[0]?.message.content ?? "";
    const parsed = JSON.parse(content) as { mood: string };
    assert.ok(["angry", "happy"].includes(parsed.mood), content);
  });

  it("answers a text completion", async () => {
    const completion = await openai.completions.create({
      model,
      prompt: "The robot said",
      max_tokens: 8,
      temperature: 0,
    });
    assert.equal(completion.object, "text_completion");
    assert.equal(completion.usage?.completion_tokens, 8);
    assert.equal(completion.choices[0]?.finish_reason, "length");
    assert.ok((completion.choices[0]?.text ?? "").length > 0);
  });

  it("streams to curl -N as server-sent events ending in [DONE]", async () => {
    const body = JSON.stringify({ model, prompt: "The robot said", max_tokens: 4, temperature: 0, stream: true });
    const { stdout } = await run("curl", [
      "-sN",
      `${base}v1/completions`,
      "-H",
      "content-type: application/json",
      "-d",
      body,
    ]);
    const events = stdout.split("\n\n").filter((event) => event.length > 0);
    assert.equal(events.at(-1), "data: [DONE]");
    const chunks = events.slice(0, -1).map((event) => JSON.parse(event.replace(/^data: /, "")));
    assert.equal(chunks.at(-1).choices[0].finish_reason, "length");
    assert.ok(
      chunks.slice(0, -1).every((chunk) => chunk.object === "text_completion" && chunk.choices[0].text.length > 0),
    );
  });

  it("refuses what it cannot honour with OpenAI-shaped errors", async () => {
    const refusal = async (body: Record<string, unknown>) => {
      const error = await openai.chat.completions.create(body as never).then(
        () => assert.fail("accepted"),
        (caught: unknown) => caught,
      );
      assert.ok(error instanceof OpenAI.APIError, String(error));
      return error;
    };
    const unknownModel = await refusal({ model: "gpt-4o", messages });
    assert.equal(unknownModel.status, 404);
    assert.equal(unknownModel.code, "E_MODEL_NOT_FOUND");
    assert.equal(unknownModel.param, "model");
    const twoChoices = await refusal({ model, messages, n: 2 });
    assert.equal(twoChoices.status, 400);
    assert.equal(twoChoices.param, "n");
    const tools = await refusal({
      model,
      messages,
      tools: [{ type: "function", function: { name: "open_door", parameters: { type: "object" } } }],
    });
    assert.equal(tools.status, 400);
    assert.equal(tools.param, "tools");
    assert.match(tools.message, /function calling are not supported/);
    const penalty = await refusal({ model, messages, presence_penalty: 0.5 });
    assert.equal(penalty.param, "presence_penalty");
    const unknownField = await refusal({ model, messages, modalities: ["audio"] });
    assert.equal(unknownField.param, "modalities");
    assert.equal(unknownField.code, "E_BAD_REQUEST");
    const tooMany = await refusal({ model, messages, max_tokens: 10_000_000 });
    assert.equal(tooMany.status, 400);
    assert.equal(tooMany.code, "E_BAD_REQUEST");
    const badJson = await fetch(`${base}v1/chat/completions`, { method: "POST", body: "{not json" });
    assert.equal(badJson.status, 400);
    const body = (await badJson.json()) as { error: { code: string; type: string; message: string; param: null } };
    assert.equal(body.error.code, "E_BAD_JSON");
    assert.equal(body.error.type, "invalid_request_error");
    assert.equal(body.error.param, null);
  });
});
