/**
 * The json_schema subset: what the grammar can enforce is accepted and rewritten into the form
 * node-llama-cpp reads; everything else is refused naming the keyword and where it is.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  JsonSchemaSubsetError,
  maxSchemaDepth,
  toGrammarSchema,
} from "../../hal/backends/llamaCpp/checkJsonSchemaSubset.js";

function refusal(schema: unknown): JsonSchemaSubsetError {
  try {
    toGrammarSchema(schema);
  } catch (error) {
    assert.ok(error instanceof JsonSchemaSubsetError, `not a subset error: ${String(error)}`);
    return error;
  }
  assert.fail(`accepted: ${JSON.stringify(schema)}`);
}

describe("json_schema subset", () => {
  it("accepts what the grammar enforces and drops only annotations", () => {
    const schema = {
      $schema: "https://json-schema.org/draft/2020-12/schema",
      title: "Guard",
      description: "what the guard does",
      $comment: "x",
      examples: [{}],
      type: "object",
      properties: {
        action: { enum: ["wave", "attack"], default: "wave" },
        name: { type: "string", minLength: 2, maxLength: 8, deprecated: false },
        when: { type: "string", format: "date-time", readOnly: true, writeOnly: false },
        mood: { type: ["string", "null"] },
        tags: { type: "array", items: { type: "boolean" }, minItems: 1, maxItems: 3, uniqueItems: false },
      },
      required: ["action", "name"],
      additionalProperties: false,
    };
    assert.deepEqual(JSON.parse(JSON.stringify(toGrammarSchema(schema))), {
      type: "object",
      properties: {
        action: { enum: ["wave", "attack"] },
        name: { type: "string", minLength: 2, maxLength: 8 },
        when: { type: "string", format: "date-time" },
        mood: { type: ["string", "null"] },
        tags: { type: "array", items: { type: "boolean" }, minItems: 1, maxItems: 3 },
      },
      additionalProperties: false,
    });
  });

  it("enforces small integer ranges by listing their values", () => {
    assert.deepEqual(toGrammarSchema({ type: "integer", minimum: 1, maximum: 4 }), { enum: [1, 2, 3, 4] });
    assert.deepEqual(toGrammarSchema({ type: "integer", exclusiveMinimum: 0.5, exclusiveMaximum: 10, multipleOf: 3 }), {
      enum: [3, 6, 9],
    });
    assert.deepEqual(toGrammarSchema({ type: "integer", minimum: -2, maximum: 0 }), { enum: [-2, -1, 0] });
  });

  it("inlines local $refs from $defs and definitions, and turns anyOf into the grammar's union", () => {
    const schema = {
      $defs: { name: { type: "string", maxLength: 4 } },
      definitions: { flag: { type: "boolean" } },
      type: "object",
      properties: {
        a: { $ref: "#/$defs/name" },
        b: { $ref: "#/definitions/flag" },
        c: { anyOf: [{ type: "integer" }, { type: "number" }] },
        d: { oneOf: [{ type: "string" }, { type: "null" }, { const: 3 }] },
      },
    };
    assert.deepEqual(JSON.parse(JSON.stringify(toGrammarSchema(schema))), {
      type: "object",
      properties: {
        a: { type: "string", maxLength: 4 },
        b: { type: "boolean" },
        c: { oneOf: [{ type: "integer" }, { type: "number" }] },
        d: { oneOf: [{ type: "string" }, { type: "null" }, { const: 3 }] },
      },
      additionalProperties: false,
    });
  });

  it("keeps prototype names as plain data (properties map without a prototype)", () => {
    const schema = JSON.parse(
      '{"type":"object","properties":{"__proto__":{"type":"null"},"constructor":{"type":"null"}}}',
    );
    const converted = toGrammarSchema(schema) as { properties: Record<string, unknown> };
    assert.deepEqual(Object.keys(converted.properties), ["__proto__", "constructor"]);
    assert.equal(Object.getPrototypeOf(converted.properties), null);
    assert.match(refusal(JSON.parse('{"__proto__":{"type":"string"}}')).message, /__proto__/);
    assert.match(refusal({ type: "string", constructor: 1 }).message, /json_schema\.constructor/);
  });

  const refused: Array<[string, unknown, RegExp]> = [
    ["pattern", { type: "string", pattern: "^a" }, /json_schema\.pattern: /],
    ["a format without a grammar", { type: "string", format: "email" }, /json_schema\.format: /],
    ["a format with a length", { type: "string", format: "date", minLength: 3 }, /json_schema\.minLength: /],
    ["a dangling $ref", { $ref: "#/$defs/missing" }, /json_schema\.\$ref: .*names no definition/],
    ["a $ref outside $defs", { $ref: "#/properties/a" }, /json_schema\.\$ref: /],
    ["a remote $ref", { $ref: "https://example.com/s.json" }, /json_schema\.\$ref: /],
    [
      "a recursive $ref",
      {
        $ref: "#/$defs/node",
        $defs: { node: { type: "object", properties: { child: { $ref: "#/$defs/node" } } } },
      },
      /\$ref: .*recursive/,
    ],
    ["an integer minimum alone", { type: "integer", minimum: 0 }, /json_schema\.minimum: needs both/],
    ["an integer maximum alone", { type: "integer", maximum: 0 }, /json_schema\.maximum: needs both/],
    ["a wide integer range", { type: "integer", minimum: 0, maximum: 100_000 }, /json_schema\.minimum: allows 100001/],
    ["an empty integer range", { type: "integer", minimum: 3, maximum: 2 }, /json_schema\.minimum: no integer/],
    ["exclusiveMinimum as draft-04 boolean", { type: "integer", exclusiveMinimum: true }, /exclusiveMinimum: /],
    ["a fractional multipleOf", { type: "integer", minimum: 0, maximum: 3, multipleOf: 0.5 }, /multipleOf: /],
    ["number bounds", { type: "number", maximum: 1 }, /json_schema\.maximum: .*"number"/],
    ["number multipleOf", { type: "number", multipleOf: 2 }, /json_schema\.multipleOf: /],
    ["bounds with several types", { type: ["integer", "null"], minimum: 0 }, /json_schema\.minimum: /],
    ["patternProperties", { type: "object", patternProperties: {} }, /json_schema\.patternProperties: /],
    ["an unknown keyword", { type: "object", sparkle: 1 }, /json_schema\.sparkle: /],
    ["allOf", { allOf: [{ type: "string" }] }, /json_schema\.allOf: /],
    ["not", { not: { type: "string" } }, /json_schema\.not: /],
    ["if", { type: "string", if: { type: "string" } }, /json_schema\.if: /],
    ["$id", { type: "string", $id: "x" }, /json_schema\.\$id: /],
    ["a schema with no type", {}, /json_schema\.type: is missing/],
    ["a boolean schema", true, /json_schema\.true: /],
    ["an unknown type", { type: "nonsense-type" }, /json_schema\.type: /],
    ["object among several types", { type: ["object", "null"] }, /json_schema\.type: /],
    ["minLength above maxLength", { type: "string", minLength: 5, maxLength: 2 }, /json_schema\.minLength: /],
    ["a huge maxLength", { type: "string", maxLength: 1e9 }, /json_schema\.maxLength: /],
    ["overlapping oneOf", { oneOf: [{ type: "integer" }, { type: "number" }] }, /json_schema\.oneOf: .*0 and 1/],
    ["overlapping oneOf objects", { oneOf: [{ type: "object" }, { type: "object" }] }, /json_schema\.oneOf: /],
    ["oneOf beside type", { type: "string", oneOf: [{ type: "string" }] }, /json_schema\.type: /],
    [
      "required naming an unlisted property",
      { type: "object", properties: { a: { type: "string" } }, required: ["b"] },
      /json_schema\.required: names "b"/,
    ],
    [
      "additionalProperties beside properties",
      { type: "object", properties: { a: { type: "string" } }, additionalProperties: true },
      /json_schema\.additionalProperties: /,
    ],
    ["minProperties above the listed ones", { type: "object", minProperties: 1 }, /json_schema\.minProperties: /],
    [
      "maxProperties below the listed ones",
      { type: "object", properties: { a: { type: "null" } }, maxProperties: 0 },
      /maxProperties: /,
    ],
    ["uniqueItems", { type: "array", uniqueItems: true }, /json_schema\.uniqueItems: /],
    ["tuple-form items", { type: "array", items: [{ type: "string" }] }, /json_schema\.items: /],
    [
      "maxItems below prefixItems",
      { type: "array", prefixItems: [{ type: "null" }, { type: "null" }], maxItems: 1 },
      /maxItems: /,
    ],
    ["an enum value of another type", { type: "string", enum: ["a", 1] }, /json_schema\.enum: 1 is not/],
    ["an object enum value", { enum: [{ a: 1 }] }, /json_schema\.enum: /],
    ["a const with a control character", { const: "a\u0001" }, /json_schema\.const: /],
    [
      "a property name with a control character",
      { type: "object", properties: { "a\u0002": { type: "null" } } },
      /properties: /,
    ],
    [
      "a sibling beside $ref",
      { $ref: "#/$defs/a", type: "string", $defs: { a: { type: "string" } } },
      /json_schema\.type: .*\$ref/,
    ],
    [
      "$defs below the root",
      { type: "object", properties: { a: { type: "null", $defs: {} } } },
      /json_schema\.properties\.a\.\$defs: /,
    ],
    [
      "an invalid unused definition",
      { type: "string", $defs: { x: { type: "string", pattern: "x" } } },
      /json_schema\.\$defs\.x\.pattern: /,
    ],
    [
      "a nested unsupported keyword",
      { type: "object", properties: { a: { type: "string", pattern: "x" } } },
      /json_schema\.properties\.a\.pattern: /,
    ],
  ];
  for (const [name, schema, message] of refused)
    it(`refuses ${name}`, () => {
      assert.match(refusal(schema).message, message);
    });

  it(`refuses nesting deeper than ${maxSchemaDepth} levels, without recursing into all of it`, () => {
    let deep: unknown = { type: "null" };
    for (let i = 0; i < 20_000; i++) deep = { type: "array", items: deep };
    assert.match(refusal(deep).message, /deeper than 32/);
  });

  it("refuses $refs that multiply into a huge grammar", () => {
    const $defs: Record<string, unknown> = { d0: { type: "null" } };
    for (let i = 1; i <= 20; i++)
      $defs[`d${i}`] = { type: "array", prefixItems: [{ $ref: `#/$defs/d${i - 1}` }, { $ref: `#/$defs/d${i - 1}` }] };
    assert.match(refusal({ $defs, $ref: "#/$defs/d20" }).message, /more than 2000 parts/);
  });
});
