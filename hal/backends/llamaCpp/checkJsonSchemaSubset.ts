/**
 * node-llama-cpp 3.22 turns a JSON schema into a grammar but silently reads what it does not
 * understand as "null" or "any JSON" (`{"type":"nonsense"}` becomes `null`, a dangling `$ref` any
 * JSON, `pattern` and `minimum` are dropped). A request must never get output that breaks its own
 * schema, so this module accepts only the subset the grammar enforces and rewrites it into the
 * form node-llama-cpp reads: `$ref`s inlined, `anyOf` as its union, small integer ranges as the
 * list of allowed values. Anything else is refused naming the keyword and where it is.
 *
 * It reads client data: own keys only (Object.hasOwn), maps it builds have no prototype, and the
 * walk is depth- and size-capped so a hostile schema cannot blow the stack or the grammar up.
 */
import { JsonSchemaSubsetError } from "./JsonSchemaSubsetError.js";
import {
  allowedKeywords,
  annotationKeywords,
  isPlainObject,
  type Kind,
  kindOf,
  own,
  refusalOf,
  typeList,
} from "./jsonSchemaKeywords.js";
import {
  type GrammarSchema,
  integerRangeProblem,
  literalProblem,
  literalTypeMatches,
  nonNegativeIntegerOrUndefined,
  oneOfOverlap,
} from "./jsonSchemaRules.js";

export { JsonSchemaSubsetError } from "./JsonSchemaSubsetError.js";
export { annotationKeywords } from "./jsonSchemaKeywords.js";

export const maxSchemaDepth = 32;
/** Schema nodes after `$ref`s are inlined (plus enum values): bounds the grammar's size. */
export const maxSchemaNodes = 2000;
/** The largest minLength/maxLength/minItems/maxItems/…: llama.cpp expands bounded repetitions. */
export const maxRepetitionBound = 1024;
export const supportedFormats: ReadonlySet<string> = new Set(["date", "time", "date-time"]);

const refPattern = /^#\/(\$defs|definitions)\/([^/~%]+)$/;

interface Walk {
  defs: Map<string, { schema: unknown; path: string }>;
  resolving: Set<string>;
  nodes: number;
}

/** The schema as node-llama-cpp should read it, or a JsonSchemaSubsetError. */
export function toGrammarSchema(schema: unknown): GrammarSchema {
  const walk: Walk = { defs: new Map(), resolving: new Set(), nodes: 0 };
  if (isPlainObject(schema))
    for (const section of ["$defs", "definitions"] as const) {
      const defs = own(schema, section);
      if (defs === undefined) continue;
      if (!isPlainObject(defs)) throw new JsonSchemaSubsetError("json_schema", section, "must be an object of schemas");
      for (const [name, def] of Object.entries(defs))
        walk.defs.set(`#/${section}/${name}`, { schema: def, path: `json_schema.${section}.${name}` });
    }
  // Every definition must be valid even when no $ref uses it.
  for (const [ref, def] of walk.defs) {
    walk.resolving.add(ref);
    convert(def.schema, def.path, 1, walk, false);
    walk.resolving.delete(ref);
  }
  walk.nodes = 0; // the definitions had their own budget; the schema as written gets a fresh one
  return convert(schema, "json_schema", 0, walk, true);
}

function convert(node: unknown, path: string, depth: number, walk: Walk, isRoot: boolean): GrammarSchema {
  if (depth > maxSchemaDepth)
    throw new JsonSchemaSubsetError(path, "*", `nested deeper than ${maxSchemaDepth} levels (after $refs)`);
  walk.nodes += 1;
  if (walk.nodes > maxSchemaNodes)
    throw new JsonSchemaSubsetError(path, "*", `the schema has more than ${maxSchemaNodes} parts (after $refs)`);
  if (typeof node === "boolean")
    throw new JsonSchemaSubsetError(path, String(node), "boolean schemas are not supported here; write an object");
  if (!isPlainObject(node)) throw new JsonSchemaSubsetError(path, "*", "a schema must be an object");
  const kind = kindOf(node, path, isRoot);
  const allowed = allowedKeywords(kind, node);
  for (const key of Object.keys(node)) {
    if (annotationKeywords.has(key) || allowed.has(key)) continue;
    if (isRoot && (key === "$defs" || key === "definitions")) continue;
    throw new JsonSchemaSubsetError(path, key, refusalOf(key, kind));
  }
  switch (kind) {
    case "$ref":
      return convertRef(node, path, depth, walk);
    case "anyOf":
    case "oneOf":
      return convertUnion(node, kind, path, depth, walk);
    case "const":
    case "enum":
      return convertLiteral(node, kind, path, walk);
    default:
      return convertTyped(node, kind, path, depth, walk);
  }
}

function convertRef(node: Record<string, unknown>, path: string, depth: number, walk: Walk): GrammarSchema {
  const ref = own(node, "$ref");
  if (typeof ref !== "string" || !refPattern.test(ref))
    throw new JsonSchemaSubsetError(path, "$ref", 'must be "#/$defs/<name>" or "#/definitions/<name>"');
  const def = walk.defs.get(ref);
  if (def === undefined)
    throw new JsonSchemaSubsetError(path, "$ref", `${JSON.stringify(ref)} names no definition at the root`);
  if (walk.resolving.has(ref))
    throw new JsonSchemaSubsetError(path, "$ref", `${JSON.stringify(ref)} is recursive, which is not supported`);
  walk.resolving.add(ref);
  try {
    return convert(def.schema, def.path, depth + 1, walk, false);
  } finally {
    walk.resolving.delete(ref);
  }
}

function convertUnion(
  node: Record<string, unknown>,
  kind: "anyOf" | "oneOf",
  path: string,
  depth: number,
  walk: Walk,
): GrammarSchema {
  const list = own(node, kind);
  if (!Array.isArray(list) || list.length === 0)
    throw new JsonSchemaSubsetError(path, kind, "must be a non-empty array of schemas");
  const alternatives = list.map((item, index) => convert(item, `${path}.${kind}[${index}]`, depth + 1, walk, false));
  if (kind === "oneOf") {
    const overlap = oneOfOverlap(alternatives);
    if (overlap !== undefined)
      throw new JsonSchemaSubsetError(
        path,
        "oneOf",
        `alternatives ${overlap[0]} and ${overlap[1]} can match the same value, and the grammar cannot keep them exclusive (use anyOf)`,
      );
  }
  // node-llama-cpp's "oneOf" is a plain union: exactly anyOf, and oneOf once overlap is ruled out.
  return { oneOf: alternatives };
}

function convertLiteral(
  node: Record<string, unknown>,
  kind: "const" | "enum",
  path: string,
  walk: Walk,
): GrammarSchema {
  const values = kind === "const" ? [own(node, "const")] : own(node, "enum");
  if (!Array.isArray(values) || values.length === 0)
    throw new JsonSchemaSubsetError(path, kind, "must be a non-empty array of strings, numbers, booleans or null");
  walk.nodes += values.length;
  if (walk.nodes > maxSchemaNodes)
    throw new JsonSchemaSubsetError(path, kind, `the schema has more than ${maxSchemaNodes} parts`);
  const types = Object.hasOwn(node, "type") ? typeList(own(node, "type"), path) : undefined;
  for (const value of values) {
    const problem = literalProblem(value);
    if (problem !== undefined) throw new JsonSchemaSubsetError(path, kind, problem);
    if (types !== undefined && !types.some((type) => literalTypeMatches(value, type)))
      throw new JsonSchemaSubsetError(path, kind, `${JSON.stringify(value)} is not of type ${types.join(" or ")}`);
  }
  return kind === "const" ? { const: values[0] } : { enum: [...values] };
}

function convertTyped(
  node: Record<string, unknown>,
  kind: Kind,
  path: string,
  depth: number,
  walk: Walk,
): GrammarSchema {
  switch (kind) {
    case "string":
      return convertString(node, path);
    case "integer": {
      const range = integerRangeProblem(node);
      if (range.problem !== undefined) throw new JsonSchemaSubsetError(path, range.keyword, range.problem);
      if (range.values === undefined) return { type: "integer" };
      walk.nodes += range.values.length;
      if (walk.nodes > maxSchemaNodes)
        throw new JsonSchemaSubsetError(path, "minimum", `the schema has more than ${maxSchemaNodes} parts`);
      return { enum: range.values };
    }
    case "object":
      return convertObject(node, path, depth, walk);
    case "array":
      return convertArray(node, path, depth, walk);
    case "types":
      return { type: typeList(own(node, "type"), path) };
    default:
      return { type: kind };
  }
}

function convertString(node: Record<string, unknown>, path: string): GrammarSchema {
  const format = own(node, "format");
  if (format !== undefined) {
    if (typeof format !== "string" || !supportedFormats.has(format))
      throw new JsonSchemaSubsetError(path, "format", `only ${[...supportedFormats].join(", ")} are supported`);
    for (const key of ["minLength", "maxLength"])
      if (Object.hasOwn(node, key)) throw new JsonSchemaSubsetError(path, key, 'cannot be combined with "format"');
    return { type: "string", format };
  }
  const { min, max } = bounds(node, path, "minLength", "maxLength");
  return {
    type: "string",
    ...(min !== undefined ? { minLength: min } : {}),
    ...(max !== undefined ? { maxLength: max } : {}),
  };
}

function convertObject(node: Record<string, unknown>, path: string, depth: number, walk: Walk): GrammarSchema {
  const properties: Record<string, GrammarSchema> = Object.create(null);
  const declared = own(node, "properties");
  if (declared !== undefined) {
    if (!isPlainObject(declared)) throw new JsonSchemaSubsetError(path, "properties", "must be an object of schemas");
    for (const [name, schema] of Object.entries(declared)) {
      const problem = literalProblem(name);
      if (problem !== undefined) throw new JsonSchemaSubsetError(path, "properties", `property name: ${problem}`);
      properties[name] = convert(schema, `${path}.properties.${name}`, depth + 1, walk, false);
    }
  }
  const count = Object.keys(properties).length;
  const required = own(node, "required");
  if (required !== undefined) {
    if (!Array.isArray(required) || required.some((name) => typeof name !== "string"))
      throw new JsonSchemaSubsetError(path, "required", "must be an array of property names");
    const missing = required.find((name) => !Object.hasOwn(properties, name));
    if (missing !== undefined)
      throw new JsonSchemaSubsetError(
        path,
        "required",
        `names ${JSON.stringify(missing)}, which is not in "properties" (the grammar writes exactly the listed properties)`,
      );
  }
  const additional = own(node, "additionalProperties");
  let additionalSchema: GrammarSchema | true | undefined;
  if (additional !== undefined && additional !== false) {
    // Extra keys are any string to the grammar, so they could repeat a listed property with another value.
    if (count > 0)
      throw new JsonSchemaSubsetError(
        path,
        "additionalProperties",
        'is supported only without "properties" (the grammar cannot keep extra keys from repeating listed ones)',
      );
    additionalSchema =
      additional === true ? true : convert(additional, `${path}.additionalProperties`, depth + 1, walk, false);
  }
  const { min, max } = bounds(node, path, "minProperties", "maxProperties");
  if (additionalSchema === undefined) {
    if (min !== undefined && min > count)
      throw new JsonSchemaSubsetError(path, "minProperties", `is more than the ${count} listed properties`);
    if (max !== undefined && max < count)
      throw new JsonSchemaSubsetError(
        path,
        "maxProperties",
        `is less than the ${count} listed properties (all are written)`,
      );
    return { type: "object", properties, additionalProperties: false };
  }
  if (min !== undefined && min > 1)
    throw new JsonSchemaSubsetError(
      path,
      "minProperties",
      "above 1 is not supported: the grammar cannot keep keys distinct",
    );
  return {
    type: "object",
    properties,
    additionalProperties: additionalSchema,
    ...(min !== undefined ? { minProperties: min } : {}),
    ...(max !== undefined ? { maxProperties: max } : {}),
  };
}

function convertArray(node: Record<string, unknown>, path: string, depth: number, walk: Walk): GrammarSchema {
  const itemsSchema = own(node, "items");
  if (Array.isArray(itemsSchema))
    throw new JsonSchemaSubsetError(path, "items", 'must be one schema (use "prefixItems" for tuples)');
  const items = itemsSchema === undefined ? undefined : convert(itemsSchema, `${path}.items`, depth + 1, walk, false);
  const prefix = own(node, "prefixItems");
  if (prefix !== undefined && (!Array.isArray(prefix) || prefix.length === 0))
    throw new JsonSchemaSubsetError(path, "prefixItems", "must be a non-empty array of schemas");
  const prefixItems = prefix?.map((item: unknown, index: number) =>
    convert(item, `${path}.prefixItems[${index}]`, depth + 1, walk, false),
  );
  const { min, max } = bounds(node, path, "minItems", "maxItems");
  if (prefixItems !== undefined && max !== undefined && max < prefixItems.length)
    throw new JsonSchemaSubsetError(
      path,
      "maxItems",
      `is less than the ${prefixItems.length} prefixItems (all are written)`,
    );
  return {
    type: "array",
    ...(items !== undefined ? { items } : {}),
    ...(prefixItems !== undefined ? { prefixItems } : {}),
    ...(min !== undefined ? { minItems: min } : {}),
    ...(max !== undefined ? { maxItems: max } : {}),
  };
}

function bounds(
  node: Record<string, unknown>,
  path: string,
  minKey: string,
  maxKey: string,
): { min: number | undefined; max: number | undefined } {
  const read = (key: string) => {
    const value = nonNegativeIntegerOrUndefined(own(node, key), maxRepetitionBound);
    if (value === null)
      throw new JsonSchemaSubsetError(path, key, `must be an integer from 0 to ${maxRepetitionBound}`);
    return value;
  };
  const min = read(minKey);
  const max = read(maxKey);
  if (min !== undefined && max !== undefined && min > max)
    throw new JsonSchemaSubsetError(path, minKey, `is more than ${maxKey}: nothing can match`);
  return { min, max };
}
