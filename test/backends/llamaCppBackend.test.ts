/**
 * The node-llama-cpp CPU backend: the shared Backend contract, then what only llama.cpp offers
 * here (chat templates, json_schema grammars, session prefix reuse).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Ajv2020 } from "ajv/dist/2020.js";
import { gpuLayersToOffload } from "../../hal/backends/llamaCpp/gpuLayersToOffload.js";
import { LlamaCppBackend } from "../../hal/backends/llamaCpp/LlamaCppBackend.js";
import { testModelPath } from "../support/testModels.js";
import { collect, describeBackendContract, jobFor } from "./backendContract.js";

const loadOptions = { modelPath: testModelPath(), contextSize: 512, parallelSequences: 3, threads: 2 };

describeBackendContract({
  name: "llama.cpp cpu",
  createBackend: () => new LlamaCppBackend({ kind: "cpu" }),
  loadOptions,
});

describe("backend.gpuLayers", () => {
  it("reaches llama.cpp as every layer (-1), that many, or none; the CPU build offloads none whatever the setting", () => {
    assert.deepEqual(
      [gpuLayersToOffload("vulkan", -1), gpuLayersToOffload("vulkan", 0), gpuLayersToOffload("vulkan", 7)],
      ["max", 0, 7],
    );
    assert.equal(gpuLayersToOffload("vulkan"), "max");
    assert.equal(gpuLayersToOffload("cpu", 7), 0);
  });

  it("a CPU backend given gpuLayers loads and reports no offloaded layer", async () => {
    const backend = new LlamaCppBackend({ kind: "cpu", gpuLayers: 5 });
    await backend.load({ ...loadOptions, parallelSequences: 1 });
    try {
      assert.equal(backend.info().gpuLayers, 0);
    } finally {
      await backend.unload();
    }
  });
});

describe("llama.cpp cpu backend", () => {
  const backend = new LlamaCppBackend({ kind: "cpu" });
  before(() => backend.load(loadOptions));
  after(() => backend.unload());

  it("formats chat messages with TinyLlama-Chat's template", async () => {
    const messages = [
      { role: "system" as const, content: "You are a blacksmith." },
      { role: "user" as const, content: "Hello!" },
    ];
    const rendered = "<|system|>\nYou are a blacksmith.</s>\n<|user|>\nHello!</s>\n<|assistant|>\n";
    const expectedTokens = 1 + backend.model.tokenize(rendered, true).length;
    const chat = await collect(backend, jobFor("", { input: { kind: "chat", messages }, maxTokens: 8 }));
    assert.equal(chat.result.promptTokens, expectedTokens);
    assert.equal(chat.result.completionTokens, 8);
    const eos = backend.model.tokenize("</s>", true);
    assert.deepEqual(eos, [2], "</s> is the EOS token, not text");
  });

  it("constrains output to a json_schema", async () => {
    const jsonSchema = {
      type: "object",
      properties: { action: { enum: ["wave", "attack", "flee"] }, loud: { type: "boolean" } },
      required: ["action", "loud"],
      additionalProperties: false,
    };
    const { result } = await collect(
      backend,
      jobFor("The guard decides:", { maxTokens: 60, jsonSchema, sampling: { temperature: 0.8, seed: 3 } }),
    );
    assert.equal(result.finishReason, "stop");
    const parsed = JSON.parse(result.text) as { action: string; loud: boolean };
    assert.ok(["wave", "attack", "flee"].includes(parsed.action));
    assert.equal(typeof parsed.loud, "boolean");
  });

  it("keeps supported bounds in real output: lengths, counts, integer ranges, dates, unions", async () => {
    const jsonSchema = {
      $defs: { level: { type: "integer", minimum: 1, maximum: 5 } },
      type: "object",
      properties: {
        name: { type: "string", minLength: 2, maxLength: 6 },
        level: { $ref: "#/$defs/level" },
        score: { type: "integer", exclusiveMinimum: -3, maximum: 30, multipleOf: 10 },
        tags: { type: "array", items: { enum: ["a", "b"] }, minItems: 1, maxItems: 3 },
        note: { anyOf: [{ type: "string", maxLength: 3 }, { type: "null" }] },
        day: { type: "string", format: "date" },
      },
      required: ["name", "level", "score", "tags", "note", "day"],
      additionalProperties: false,
    };
    // Ajv checks everything but the date format (ajv-formats is not a dependency): a pattern does that.
    const validate = new Ajv2020({ strict: true, validateFormats: false }).compile(jsonSchema);
    for (const seed of [1, 2, 3]) {
      const { result } = await collect(
        backend,
        jobFor("Character sheet:", { maxTokens: 200, jsonSchema, sampling: { temperature: 1, seed } }),
      );
      assert.equal(result.finishReason, "stop", result.text);
      const parsed = JSON.parse(result.text) as { day: unknown };
      assert.ok(validate(parsed), `${result.text}: ${JSON.stringify(validate.errors)}`);
      assert.match(String(parsed.day), /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/, result.text);
    }
  });

  it("refuses a json_schema it cannot turn into a grammar with E_BAD_SCHEMA, naming the keyword", async () => {
    const refused: Array<[unknown, string]> = [
      [{ type: "nonsense-type" }, "type"],
      [{ enum: 5 }, "enum"],
      [{ const: { a: 1 } }, "const"],
      [{ $ref: "#/elsewhere" }, "$ref"],
      [{ $ref: "#/$defs/missing" }, "$ref"],
      [{ type: "object", properties: { mood: { type: "feeling" } } }, "type"],
      [{ anyOf: "x" }, "anyOf"],
      [{ type: "string", pattern: "^[a-z]+$" }, "pattern"],
      [{ type: "integer", minimum: 0 }, "minimum"],
      [{ type: "number", maximum: 9.5 }, "maximum"],
      [{ type: "string", format: "email" }, "format"],
      [{ type: "object", sparkle: true }, "sparkle"],
    ];
    for (const [jsonSchema, keyword] of refused) {
      await assert.rejects(
        collect(backend, jobFor("x", { jsonSchema: jsonSchema as Record<string, unknown> })),
        (error: Error & { code?: string }) => {
          assert.equal(error.code, "E_BAD_SCHEMA", JSON.stringify(jsonSchema));
          assert.match(error.message, /json_schema/);
          assert.ok(error.message.includes(`${keyword}:`), `${error.message} names ${keyword}`);
          return true;
        },
      );
    }
  });

  it("reuses a session's evaluated prefix, with the same output as without it", async () => {
    const persona = `You are Mira, the innkeeper of the Golden Goose. ${"She knows every traveller by name. ".repeat(8)}`;
    const first = await collect(backend, jobFor(`${persona}Q: Any rooms? A:`, { session: "mira", maxTokens: 8 }));
    const second = await collect(backend, jobFor(`${persona}Q: Any food? A:`, { session: "mira", maxTokens: 8 }));
    const personaTokens = backend.model.tokenize(persona).length;
    assert.ok(
      second.result.reusedPromptTokens >= personaTokens - 1,
      `reused ${second.result.reusedPromptTokens} of ${personaTokens}`,
    );
    assert.ok(first.result.reusedPromptTokens < 5, "the first request evaluates the persona itself");
    // Reuse must not change the answer: compare with a sequence that has never seen the persona.
    const fresh = new LlamaCppBackend({ kind: "cpu" });
    await fresh.load({ ...loadOptions, parallelSequences: 1 });
    try {
      const baseline = await collect(fresh, jobFor(`${persona}Q: Any food? A:`, { maxTokens: 8 }));
      assert.equal(baseline.result.reusedPromptTokens, 0);
      assert.equal(second.result.text, baseline.result.text);
    } finally {
      await fresh.unload();
    }
  });
});
