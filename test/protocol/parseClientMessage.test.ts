import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseClientMessage } from "../../daemon/protocol/parseClientMessage.js";

const limits = { maxPromptChars: 100, defaultMaxTokens: 128, maxMaxTokens: 512 };
const parse = (body: unknown) => parseClientMessage(typeof body === "string" ? body : JSON.stringify(body), limits);

describe("parseClientMessage", () => {
  it("fills defaults and normalises a single stop string", () => {
    const result = parse({ type: "generate", id: "a", prompt: "hi", stop: "\n" });
    assert.ok(result.ok);
    assert.deepEqual(result.message, {
      type: "generate",
      id: "a",
      prompt: "hi",
      stop: ["\n"],
      max_tokens: 128,
      priority: "interactive",
      stream: true,
    });
  });

  it("accepts a chat with every optional field", () => {
    const result = parse({
      type: "generate",
      id: "b",
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: "hi" },
      ],
      max_tokens: 16,
      temperature: 0.7,
      top_p: 0.9,
      top_k: 20,
      min_p: 0.1,
      repeat_penalty: 1.1,
      seed: 42,
      json_schema: { type: "object" },
      session: "npc-7",
      priority: "batch",
      deadline_ms: 5000,
      stream: false,
    });
    assert.ok(result.ok, JSON.stringify(result));
    assert.equal(result.message.type === "generate" && result.message.priority, "batch");
  });

  const refusals: Array<[string, unknown, string, string | null]> = [
    ["bad JSON", "{", "E_BAD_JSON", null],
    ["an array", "[]", "E_BAD_REQUEST", null],
    ["a missing id", { type: "generate", prompt: "x" }, "E_BAD_REQUEST", null],
    ["an unknown type", { type: "x", id: "i" }, "E_UNKNOWN_TYPE", "i"],
    ["max_tokens above the limit", { type: "generate", id: "i", prompt: "x", max_tokens: 513 }, "E_BAD_REQUEST", "i"],
    ["a fractional max_tokens", { type: "generate", id: "i", prompt: "x", max_tokens: 1.5 }, "E_BAD_REQUEST", "i"],
    ["a negative temperature", { type: "generate", id: "i", prompt: "x", temperature: -1 }, "E_BAD_REQUEST", "i"],
    ["a prompt over maxPromptChars", { type: "generate", id: "i", prompt: "x".repeat(101) }, "E_PROMPT_TOO_LONG", "i"],
    [
      "chat contents over maxPromptChars",
      { type: "generate", id: "i", messages: [{ role: "user", content: "y".repeat(101) }] },
      "E_PROMPT_TOO_LONG",
      "i",
    ],
    [
      "an extra field in a chat message",
      { type: "generate", id: "i", messages: [{ role: "user", content: "y", name: "n" }] },
      "E_BAD_REQUEST",
      "i",
    ],
    ["an empty messages list", { type: "generate", id: "i", messages: [] }, "E_BAD_REQUEST", "i"],
    ["nine stop strings", { type: "generate", id: "i", prompt: "x", stop: Array(9).fill("s") }, "E_BAD_REQUEST", "i"],
    ["an unknown field on cancel", { type: "cancel", id: "i", force: true }, "E_BAD_REQUEST", "i"],
    ["an overlong id", { type: "cancel", id: "z".repeat(129) }, "E_BAD_REQUEST", null],
    ["an admin request without a token", { type: "admin", id: "a", action: "status" }, "E_UNAUTHORIZED", "a"],
    [
      "swap_model without model_path",
      { type: "admin", id: "a", token: "t", action: "swap_model" },
      "E_BAD_REQUEST",
      "a",
    ],
    ["an unknown admin action", { type: "admin", id: "a", token: "t", action: "reboot" }, "E_BAD_REQUEST", "a"],
    ["a __proto__ field", '{"type":"cancel","id":"i","__proto__":1}', "E_BAD_REQUEST", "i"],
    ["a constructor field", { type: "generate", id: "i", prompt: "x", constructor: 1 }, "E_BAD_REQUEST", "i"],
    ["a type named after a prototype member", { type: "toString", id: "i" }, "E_UNKNOWN_TYPE", "i"],
    [
      "nesting deeper than 64 levels",
      `{"type":"generate","id":"i","prompt":"x","json_schema":${"[".repeat(64)}${"]".repeat(64)}}`,
      "E_BAD_REQUEST",
      null,
    ],
    [
      "1025 chat messages",
      { type: "generate", id: "i", messages: Array(1025).fill({ role: "user", content: "" }) },
      "E_BAD_REQUEST",
      "i",
    ],
  ];
  for (const [name, body, code, id] of refusals) {
    it(`refuses ${name} with ${code}`, () => {
      const result = parse(body);
      assert.ok(!result.ok);
      assert.equal(result.error.code, code);
      assert.equal(result.id, id);
      assert.ok(result.error.message.length > 10);
    });
  }

  it("accepts json_schema nested up to the 64-level limit", () => {
    const nested = `${'{"items":'.repeat(62)}{}${"}".repeat(62)}`;
    const result = parse(`{"type":"generate","id":"i","prompt":"x","json_schema":${nested}}`);
    assert.ok(result.ok, JSON.stringify(result));
  });

  it("names an unknown field, nested ones by their path", () => {
    const top = parse('{"type":"cancel","id":"i","valueOf":1}');
    assert.ok(!top.ok);
    assert.equal(top.error.message, "unknown field 'valueOf'");
    const nested = parse({ type: "generate", id: "i", messages: [{ role: "user", content: "y", name: "n" }] });
    assert.ok(!nested.ok);
    assert.equal(nested.error.message, "unknown field 'messages[0].name'");
  });

  it("names the element of a list that is wrong", () => {
    const result = parse({ type: "generate", id: "i", prompt: "x", stop: ["a", ""] });
    assert.ok(!result.ok);
    assert.equal(result.error.message, "'stop[1]' must be a string of 1..128 characters (got \"\")");
  });

  it("turns an unexpected exception into E_INTERNAL for that message, keeping the id and the cause", () => {
    const failure = new Error("limits unreadable");
    const brokenLimits = {
      ...limits,
      get maxMaxTokens(): number {
        throw failure;
      },
    };
    const result = parseClientMessage('{"type":"generate","id":"i","prompt":"x"}', brokenLimits);
    assert.ok(!result.ok);
    assert.equal(result.error.code, "E_INTERNAL");
    assert.equal(result.id, "i");
    assert.equal(result.error.cause, failure);
  });

  it("names the field, the expectation and the bad value", () => {
    const result = parse({ type: "generate", id: "i", prompt: "x", top_p: "high" });
    assert.ok(!result.ok);
    assert.match(result.error.message, /'top_p' must be a number in 0\.\.1 \(got "high"\)/);
  });
});
