/**
 * node-llama-cpp turns a JSON schema into a grammar but silently reads what it does not understand
 * as "null" or "any" (e.g. `{"type":"nonsense"}` becomes the grammar for `null`). Requests must not
 * get such a surprise: this check refuses schemas outside the supported subset, naming the place.
 */
const typeNames = new Set(["string", "number", "integer", "boolean", "null", "object", "array"]);
const schemaListKeys = ["anyOf", "oneOf", "allOf", "prefixItems"] as const;
const maxDepth = 32;

export function jsonSchemaProblem(schema: unknown, path = "json_schema", depth = 0): string | undefined {
  if (depth > maxDepth) return `${path}: nested deeper than ${maxDepth} levels`;
  if (typeof schema === "boolean") return undefined;
  if (typeof schema !== "object" || schema === null || Array.isArray(schema)) return `${path}: must be an object`;
  const node = schema as Record<string, unknown>;
  if (node.type !== undefined) {
    const types = Array.isArray(node.type) ? node.type : [node.type];
    for (const type of types)
      if (typeof type !== "string" || !typeNames.has(type))
        return `${path}.type: ${JSON.stringify(type)} is not one of ${[...typeNames].join(", ")}`;
  }
  if (node.enum !== undefined) {
    if (!Array.isArray(node.enum) || node.enum.length === 0) return `${path}.enum: must be a non-empty array`;
    if (node.enum.some((value) => typeof value === "object" && value !== null))
      return `${path}.enum: only strings, numbers, booleans and null are supported`;
  }
  if (node.const !== undefined && typeof node.const === "object" && node.const !== null)
    return `${path}.const: only a string, number, boolean or null is supported`;
  if (typeof node.$ref === "string" && !node.$ref.startsWith("#/$defs/"))
    return `${path}.$ref: only references into "#/$defs/" are supported`;
  for (const key of schemaListKeys) {
    const list = node[key];
    if (list === undefined) continue;
    if (!Array.isArray(list)) return `${path}.${key}: must be an array of schemas`;
    for (const [index, item] of list.entries()) {
      const problem = jsonSchemaProblem(item, `${path}.${key}[${index}]`, depth + 1);
      if (problem) return problem;
    }
  }
  for (const key of ["properties", "$defs"] as const) {
    const map = node[key];
    if (map === undefined) continue;
    if (typeof map !== "object" || map === null || Array.isArray(map)) return `${path}.${key}: must be an object`;
    for (const [name, item] of Object.entries(map)) {
      const problem = jsonSchemaProblem(item, `${path}.${key}.${name}`, depth + 1);
      if (problem) return problem;
    }
  }
  for (const key of ["items", "additionalProperties"] as const) {
    if (node[key] === undefined) continue;
    const problem = jsonSchemaProblem(node[key], `${path}.${key}`, depth + 1);
    if (problem) return problem;
  }
  if (
    node.required !== undefined &&
    (!Array.isArray(node.required) || node.required.some((r) => typeof r !== "string"))
  )
    return `${path}.required: must be an array of property names`;
  return undefined;
}
