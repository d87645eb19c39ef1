/**
 * The keywords of the json_schema subset (checkJsonSchemaSubset.ts): what a schema is (its kind),
 * which keywords each kind accepts, and the words a refusal uses. Reads own keys only.
 */
import { JsonSchemaSubsetError } from "./JsonSchemaSubsetError.js";

/** Keywords with no effect on validation; they are accepted and not passed on. */
export const annotationKeywords: ReadonlySet<string> = new Set([
  "title",
  "description",
  "$comment",
  "$schema",
  "examples",
  "default",
  "deprecated",
  "readOnly",
  "writeOnly",
]);
const scalarTypes = new Set(["string", "number", "integer", "boolean", "null"]);

export type Kind =
  | "$ref"
  | "anyOf"
  | "oneOf"
  | "const"
  | "enum"
  | "types"
  | "string"
  | "integer"
  | "number"
  | "object"
  | "array"
  | "boolean"
  | "null";

export function kindOf(node: Record<string, unknown>, path: string, isRoot: boolean): Kind {
  for (const kind of ["$ref", "anyOf", "oneOf", "const", "enum"] as const) if (Object.hasOwn(node, kind)) return kind;
  if (!Object.hasOwn(node, "type")) {
    const unsupported = Object.keys(node).find(
      (key) => !annotationKeywords.has(key) && !(isRoot && (key === "$defs" || key === "definitions")),
    );
    if (unsupported !== undefined)
      throw new JsonSchemaSubsetError(path, unsupported, "is not supported: the grammar cannot enforce it");
    throw new JsonSchemaSubsetError(
      path,
      "type",
      'is missing: a schema needs "type", "const", "enum", "anyOf", "oneOf" or "$ref"',
    );
  }
  const types = typeList(own(node, "type"), path);
  if (types.length === 1) return types[0] as Kind;
  const structured = types.find((type) => type === "object" || type === "array");
  if (structured !== undefined)
    throw new JsonSchemaSubsetError(path, "type", `"${structured}" cannot be listed with other types`);
  return "types";
}

export function typeList(type: unknown, path: string): string[] {
  const types = Array.isArray(type) ? type : [type];
  if (types.length === 0) throw new JsonSchemaSubsetError(path, "type", "must name at least one type");
  for (const entry of types)
    if (typeof entry !== "string" || !(scalarTypes.has(entry) || entry === "object" || entry === "array"))
      throw new JsonSchemaSubsetError(
        path,
        "type",
        `${JSON.stringify(entry)} is not one of string, number, integer, boolean, null, object, array`,
      );
  return [...new Set(types as string[])];
}

export function allowedKeywords(kind: Kind, node: Record<string, unknown>): ReadonlySet<string> {
  switch (kind) {
    case "$ref":
    case "anyOf":
    case "oneOf":
      return new Set([kind]);
    case "const":
    case "enum":
      return new Set([kind, "type"]);
    case "string":
      return new Set(["type", "minLength", "maxLength", "format"]);
    case "integer":
      return new Set(["type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"]);
    case "object":
      return new Set(["type", "properties", "required", "additionalProperties", "minProperties", "maxProperties"]);
    case "array": {
      const keywords = new Set(["type", "items", "prefixItems", "minItems", "maxItems"]);
      // uniqueItems: false asks for nothing; true is refused.
      if (own(node, "uniqueItems") === false) keywords.add("uniqueItems");
      return keywords;
    }
    default:
      return new Set(["type"]);
  }
}

export function refusalOf(key: string, kind: Kind): string {
  if (key === "$defs" || key === "definitions")
    return `is supported only at the root (refs are "#/${key}/<name>" from the root)`;
  if (kind === "$ref") return `cannot sit beside "$ref": the grammar would ignore it`;
  if (kind === "anyOf" || kind === "oneOf") return `cannot sit beside "${kind}"; put it in each alternative`;
  if (kind === "const" || kind === "enum") return `cannot sit beside "${kind}": the grammar would ignore it`;
  if (kind === "number" && ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"].includes(key))
    return 'is not supported on type "number": the grammar cannot bound fractional numbers (use "integer" with both bounds)';
  if (key === "uniqueItems") return "true is not supported: the grammar cannot keep items distinct";
  return `is not supported${kind === "types" ? " with several types" : ` on type "${kind}"`}: the grammar cannot enforce it`;
}

export function own(node: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(node, key) ? node[key] : undefined;
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
