import type { FieldSchema } from "./clientMessageSchema.js";

/**
 * What a field schema accepts, in words ("a number in 0..1", "one of interactive, batch"): the
 * same text in an E_BAD_REQUEST message and in docs/protocol.md's Type column, so they never differ.
 */
export function describeExpectation(schema: FieldSchema): string {
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.enum !== undefined) return `one of ${schema.enum.join(", ")}`;
  if (schema.anyOf !== undefined) return schema.anyOf.map(describeExpectation).join(" or ");
  switch (schema.type) {
    case "string":
      return `a ${describeString(schema)}`;
    case "number":
      return `a number${describeRange(schema.minimum, schema.maximum)}`;
    case "integer":
      return `an integer${describeRange(schema.minimum, schema.maximum)}`;
    case "boolean":
      return "true or false";
    case "array":
      return `an array of ${describeCount(schema.minItems, schema.maxItems)}${describePlural(schema.items)}`;
    case "object":
      return schema.properties === undefined ? "a JSON object" : `a ${describeObject(schema)} object`;
    default:
      return "a JSON value";
  }
}

function describeString(schema: FieldSchema): string {
  const { minLength: min = 0, maxLength: max } = schema;
  if (max !== undefined) return min > 0 ? `string of ${min}..${max} characters` : `string of at most ${max} characters`;
  return min > 0 ? `string of at least ${min} characters` : "string";
}

function describeRange(min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return ` in ${min}..${max}`;
  if (min !== undefined) return ` ≥ ${min}`;
  if (max !== undefined) return ` ≤ ${max}`;
  return "";
}

function describeCount(min = 0, max: number | undefined): string {
  if (max !== undefined) return min > 0 ? `${min}..${max} ` : `up to ${max} `;
  return min > 0 ? `at least ${min} ` : "any number of ";
}

function describePlural(items: FieldSchema | undefined): string {
  if (items === undefined) return "values";
  if (items.type === "string") return `${describeString(items)}`.replace(/^string/, "strings");
  if (items.type === "object" && items.properties !== undefined) return `${describeObject(items)} objects`;
  return `items, each ${describeExpectation(items)}`;
}

function describeObject(schema: FieldSchema): string {
  return `{${Object.keys(schema.properties ?? {}).join(", ")}}`;
}
