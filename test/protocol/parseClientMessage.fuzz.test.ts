/**
 * Property-based tests of parseClientMessage: thousands of hostile or random inputs per run, each
 * of which must give exactly one well-formed result, never an exception. numRuns is fixed per
 * property so that a run is bounded; a failure prints the seed and the shrunk input (add it to
 * regressionCorpus.json once fixed).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { maxChatMessages, maxJsonDepth, maxStopStrings } from "../../daemon/protocol/clientMessageSchema.js";
import { type ParseResult, parseClientMessage } from "../../daemon/protocol/parseClientMessage.js";
import { assertWellFormedResult, prototypeNames } from "./parseResultInvariants.js";

const limits = { maxPromptChars: 2000, defaultMaxTokens: 64, maxMaxTokens: 256 };

function parseChecked(raw: string | Buffer): ParseResult {
  let result: ParseResult | undefined;
  assert.doesNotThrow(() => {
    result = parseClientMessage(raw, limits);
  });
  assert.ok(result !== undefined);
  assertWellFormedResult(result, limits);
  return result;
}

/** A JSON object text from key/value pairs, written by hand so that `__proto__` and repeated keys survive. */
function objectText(entries: ReadonlyArray<readonly [string, unknown]>): string {
  return `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value) ?? "null"}`).join(",")}}`;
}

/** Any UTF-16 code unit, lone surrogates included. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit));
const oddString = fc.string({ unit: codeUnit, maxLength: 40 });
const messageType = fc.oneof(fc.constantFrom("generate", "cancel", "admin"), oddString, fc.jsonValue({ maxDepth: 2 }));
const fieldName = fc.oneof(
  fc.constantFrom(
    "type",
    "id",
    "prompt",
    "messages",
    "max_tokens",
    "temperature",
    "top_p",
    "top_k",
    "min_p",
    "repeat_penalty",
    "seed",
    "stop",
    "json_schema",
    "session",
    "priority",
    "deadline_ms",
    "stream",
    "reply_to",
    "token",
    "action",
    "model_path",
  ),
  fc.constantFrom(...prototypeNames),
  oddString,
);
const chatMessage = fc.record({ role: fc.constantFrom("system", "user", "assistant"), content: fc.string() });
const fieldValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  oddString,
  fc.integer({ min: -10, max: 2000 }),
  fc.double(),
  fc.array(chatMessage, { maxLength: 4 }),
  fc.array(fc.string({ maxLength: 10 }), { maxLength: 12 }),
  fc.constantFrom("interactive", "batch", "status", "swap_model", true, false, null),
  fc.dictionary(fc.constantFrom(...prototypeNames, "role", "content", "type"), fc.jsonValue({ maxDepth: 1 })),
);
const messageLike = fc
  .tuple(
    messageType,
    fc.oneof(fc.string({ minLength: 1, maxLength: 8 }), fc.jsonValue({ maxDepth: 1 })),
    fc.array(fc.tuple(fieldName, fieldValue), { maxLength: 8 }),
  )
  .map(([type, id, rest]) => objectText([["type", type], ["id", id], ...rest]));

const validGenerate = fc
  .record(
    {
      id: fc.string({ minLength: 1, maxLength: 128 }),
      max_tokens: fc.integer({ min: 1, max: limits.maxMaxTokens }),
      temperature: fc.double({ min: 0, max: 5, noNaN: true }),
      top_p: fc.double({ min: 0, max: 1, noNaN: true }),
      top_k: fc.integer({ min: 0, max: 1000 }),
      seed: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      stop: fc.oneof(
        fc.string({ minLength: 1, maxLength: 128 }),
        fc.array(fc.string({ minLength: 1, maxLength: 128 }), { maxLength: maxStopStrings }),
      ),
      json_schema: fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 3 })),
      session: fc.string({ minLength: 1, maxLength: 128 }),
      priority: fc.constantFrom("interactive", "batch"),
      stream: fc.boolean(),
    },
    { requiredKeys: ["id"] },
  )
  .chain((fields) =>
    fc
      .oneof(
        fc.record({ prompt: fc.string({ unit: codeUnit, maxLength: 200 }) }),
        fc.record({ messages: fc.array(chatMessage, { minLength: 1, maxLength: 8 }) }),
      )
      .map((input) => ({ type: "generate", ...fields, ...input })),
  );

describe("parseClientMessage under fuzzing", () => {
  it("answers arbitrary JSON texts with one well-formed result", () => {
    fc.assert(
      fc.property(fc.json({ maxDepth: 6 }), (text) => {
        parseChecked(text);
      }),
      { numRuns: 2000 },
    );
  });

  it("answers message-shaped objects with random, unknown and prototype-named fields", () => {
    fc.assert(
      fc.property(messageLike, (text) => {
        parseChecked(text);
      }),
      { numRuns: 4000 },
    );
  });

  it("accepts every valid generate request, as sent plus defaults", () => {
    fc.assert(
      fc.property(validGenerate, (request) => {
        const sent = JSON.stringify(request);
        const result = parseChecked(sent);
        assert.ok(result.ok, JSON.stringify(result.ok || result.error.message));
        const message = result.message as unknown as Record<string, unknown>;
        for (const [field, value] of Object.entries(JSON.parse(sent)))
          assert.deepEqual(message[field], field === "stop" && typeof value === "string" ? [value] : value, field);
      }),
      { numRuns: 1000 },
    );
  });

  it("refuses a prototype-named field anywhere with E_BAD_REQUEST naming it", () => {
    const valid = [
      { type: "cancel", id: "x" },
      { type: "generate", id: "x", prompt: "hi" },
      { type: "admin", id: "x", token: "t", action: "status" },
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...valid),
        fc.constantFrom(...prototypeNames),
        fc.jsonValue({ maxDepth: 2 }),
        fc.boolean(),
        (base, name, value, inChat) => {
          const text = inChat
            ? `{"type":"generate","id":"x","messages":[${objectText([
                ["role", "user"],
                ["content", "hi"],
                [name, value],
              ])}]}`
            : objectText([...Object.entries(base), [name, value]]);
          const result = parseChecked(text);
          assert.ok(!result.ok);
          assert.equal(result.error.code, "E_BAD_REQUEST");
          assert.equal(result.id, "x");
          assert.ok(result.error.message.includes(name), result.error.message);
        },
      ),
      { numRuns: 600 },
    );
  });

  it("refuses nesting beyond the limit, however deep and wherever, without throwing", () => {
    const opener = fc.constantFrom(["[", "]"], ['{"a":', "}"], ['{"type":', "}"], ["[{}, ", "]"]);
    const place = fc.constantFrom(
      (nested: string) => `{"type":"generate","id":"x","prompt":"a","json_schema":{"p":${nested}}}`,
      (nested: string) => `{"type":"generate","id":"x","prompt":"a","top_p":${nested}}`,
      (nested: string) => `{"type":"generate","id":"x","messages":${nested}}`,
      (nested: string) => `{"type":"cancel","id":"x","valueOf":${nested}}`,
      (nested: string) => nested,
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), opener, place, (depth, [open, close], wrap) => {
        const text = wrap(`${open.repeat(depth)}1${close.repeat(depth)}`);
        const result = parseChecked(text);
        if (depth > maxJsonDepth) {
          assert.ok(!result.ok);
          assert.equal(result.error.code, "E_BAD_REQUEST");
        }
      }),
      { numRuns: 300 },
    );
  });

  it("bounds messages and stop lists", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 100_000 }), fc.boolean(), (count, asStop) => {
        const items = Array(count)
          .fill(asStop ? '"s"' : '{"role":"user","content":""}')
          .join(",");
        const text = `{"type":"generate","id":"x",${asStop ? `"prompt":"a","stop"` : `"messages"`}:[${items}]}`;
        const result = parseChecked(text);
        const limit = asStop ? maxStopStrings : maxChatMessages;
        assert.equal(result.ok, count <= limit && (asStop || count > 0), JSON.stringify(result.ok || result.error));
      }),
      { numRuns: 60 },
    );
  });

  it("answers texts of odd code units (lone surrogates, controls, quotes) spliced into messages", () => {
    fc.assert(
      fc.property(oddString, oddString, fc.constantFrom("id", "prompt", "type", "key"), (left, right, where) => {
        const text =
          where === "key"
            ? `{"type":"cancel","id":"x","${left}":"${right}"}`
            : `{"type":"generate","id":"x","prompt":"p","${where}":"${left}${right}"}`;
        parseChecked(text);
        parseChecked(text.slice(0, text.length - left.length));
      }),
      { numRuns: 1500 },
    );
  });

  it("answers random bytes and corrupted UTF-8 given as a Buffer", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.nat(),
        fc.integer({ min: 0, max: 255 }),
        (bytes, position, byte) => {
          parseChecked(Buffer.from(bytes));
          const valid = Buffer.from(JSON.stringify({ type: "generate", id: "é🙂", prompt: "naïve ☃" }));
          valid[position % valid.length] = byte;
          parseChecked(valid);
        },
      ),
      { numRuns: 1500 },
    );
  });

  it("answers bracket and quote soup", () => {
    const soup = fc.string({
      unit: fc.constantFrom("{", "}", "[", "]", '"', "\\", ":", ",", "a", "1", " "),
      maxLength: 300,
    });
    fc.assert(
      fc.property(soup, (text) => {
        parseChecked(text);
        parseChecked(`{"type":"generate","id":"x","prompt":"a","json_schema":${text}}`);
      }),
      { numRuns: 1500 },
    );
  });
});
