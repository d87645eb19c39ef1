/**
 * What every ParseResult must satisfy whatever the input: exactly one of a message or an error; an
 * error has a catalogued code (never E_INTERNAL: that would be a parser bug the fuzzer found) and an
 * id that is null or a valid id; a message is valid per the schemas, with no field they do not name.
 */
import assert from "node:assert/strict";
import { Ajv } from "ajv";
import { clientMessageSchemas, docDefaultKeyword, maxIdLength } from "../../daemon/protocol/clientMessageSchema.js";
import { errorCatalogue, ProtocolError } from "../../daemon/protocol/errorCodes.js";
import type { ParseResult, ProtocolLimits } from "../../daemon/protocol/parseClientMessage.js";

/** Compiled apart from the daemon's validators, so a parser that skipped them would be caught. */
const ajv = new Ajv({ strict: true, ownProperties: true });
ajv.addKeyword(docDefaultKeyword);
const validators = new Map(Object.entries(clientMessageSchemas).map(([type, schema]) => [type, ajv.compile(schema)]));

export function assertWellFormedResult(result: ParseResult, limits: ProtocolLimits): void {
  assert.equal(typeof result.ok, "boolean");
  if (result.ok) {
    assert.ok(!("error" in result), "an accepted message carries no error");
    assertValidMessage(result.message as unknown as Record<string, unknown>, limits);
    return;
  }
  assert.ok(!("message" in result), "a refusal carries no message");
  assert.ok(result.error instanceof ProtocolError);
  assert.ok(Object.hasOwn(errorCatalogue, result.error.code), `uncatalogued code ${result.error.code}`);
  assert.notEqual(result.error.code, "E_INTERNAL", `the parser failed internally: ${String(result.error.cause)}`);
  assert.ok(result.error.message.length > 10, "the error says what is wrong");
  if (result.id !== null) {
    assert.equal(typeof result.id, "string");
    assert.ok(result.id.length >= 1 && result.id.length <= maxIdLength);
  }
}

function assertValidMessage(message: Record<string, unknown>, limits: ProtocolLimits): void {
  assert.equal(Object.getPrototypeOf(message), Object.prototype);
  const type = message.type;
  assert.ok(typeof type === "string" && validators.has(type), `type ${String(type)}`);
  const validate = validators.get(type);
  assert.ok(validate?.(message), JSON.stringify(validate?.errors));
  const known = Object.keys(clientMessageSchemas[type]?.properties ?? {});
  for (const key of Reflect.ownKeys(message)) assert.ok(known.includes(String(key)), `unknown key ${String(key)}`);
  if (type === "generate") {
    assert.ok(typeof message.max_tokens === "number" && message.max_tokens <= limits.maxMaxTokens);
    assert.ok((message.prompt === undefined) !== (message.messages === undefined));
    assert.ok(message.stop === undefined || Array.isArray(message.stop));
    assert.ok(message.priority === "interactive" || message.priority === "batch");
    assert.equal(typeof message.stream, "boolean");
  }
  if (type === "admin") assert.equal(typeof message.token, "string");
}

/** The names JSON.parse turns into own properties that a careless parser would find on Object.prototype. */
export const prototypeNames = [
  "__proto__",
  "constructor",
  "toString",
  "valueOf",
  "hasOwnProperty",
  "isPrototypeOf",
  "propertyIsEnumerable",
  "toLocaleString",
  "__defineGetter__",
  "__defineSetter__",
  "__lookupGetter__",
  "__lookupSetter__",
] as const;
