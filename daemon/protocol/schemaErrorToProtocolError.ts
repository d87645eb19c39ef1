import type { FieldSchema } from "./clientMessageSchema.js";
import type { SchemaError } from "./clientMessageValidators.js";
import { describeExpectation } from "./describeExpectation.js";
import { ProtocolError } from "./errorCodes.js";

/**
 * Turns the errors of one failed validation into a single E_BAD_REQUEST that names the field, what
 * it must be and what it was: "'top_p' must be a number in 0..1 (got "high")", "unknown field
 * 'valueOf'", "'messages[0].role' is missing; it must be one of system, user, assistant".
 */
export function schemaErrorToProtocolError(errors: readonly SchemaError[] | null | undefined): ProtocolError {
  const error = innermostAnyOfError(errors ?? []);
  if (error === undefined) return new ProtocolError("E_BAD_REQUEST", "the message does not match the protocol");
  const field = fieldName(error.instancePath);
  const parent = error.parentSchema as FieldSchema | undefined;
  if (error.keyword === "additionalProperties") {
    const unknown = String(error.params.additionalProperty);
    return new ProtocolError("E_BAD_REQUEST", `unknown field ${quoteClientName(joinField(field, unknown))}`);
  }
  if (error.keyword === "required") {
    const missing = String(error.params.missingProperty);
    const properties = parent?.properties;
    const schema = properties !== undefined && Object.hasOwn(properties, missing) ? properties[missing] : undefined;
    const expectation = schema === undefined ? "" : `; it must be ${describeExpectation(schema)}`;
    return new ProtocolError("E_BAD_REQUEST", `'${joinField(field, missing)}' is missing${expectation}`);
  }
  const expected = parent === undefined ? "valid" : describeExpectation(parent);
  return new ProtocolError(
    "E_BAD_REQUEST",
    `'${field || "message"}' must be ${expected} (got ${showValue(error.data)})`,
  );
}

/**
 * The error to report. Ajv lists the failed branches of an anyOf before the anyOf itself; the anyOf
 * ("'stop' must be a string or an array of strings") is the one to show unless a branch got inside
 * the value, whose error is more precise ("'stop[1]' must be a string of 1..128 characters").
 */
function innermostAnyOfError(errors: readonly SchemaError[]): SchemaError | undefined {
  const last = errors.at(-1);
  if (last?.keyword !== "anyOf") return last;
  return errors.find((error) => error.instancePath.startsWith(`${last.instancePath}/`)) ?? last;
}

/** "/messages/0/role" → "messages[0].role" (JSON Pointer, RFC 6901). */
function fieldName(instancePath: string): string {
  if (instancePath === "") return "";
  return instancePath
    .slice(1)
    .split("/")
    .map((segment) => segment.replaceAll("~1", "/").replaceAll("~0", "~"))
    .reduce((path, segment) => (/^\d+$/.test(segment) ? `${path}[${segment}]` : joinField(path, segment)), "");
}

function joinField(path: string, name: string): string {
  return path === "" ? name : `${path}.${name}`;
}

/** A name the client chose, shown readably but never long or with control characters. */
function quoteClientName(name: string): string {
  const shown = name.length > 64 ? `${name.slice(0, 64)}…` : name;
  return /^[\x20-\x26\x28-\x7e…]+$/.test(shown) ? `'${shown}'` : JSON.stringify(shown);
}

/** The bad value, short: a string's first 40 characters, a number, or the kind of a larger value. */
export function showValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.slice(0, 40));
  if (typeof value === "number" || typeof value === "boolean" || value === null) return String(value);
  if (Array.isArray(value)) return `an array of ${value.length} item${value.length === 1 ? "" : "s"}`;
  if (typeof value === "object") return "an object";
  return "nothing";
}
