/**
 * The message schemas compiled once, at module load, by Ajv 8 (the validator Fastify uses): its
 * generated code checks `additionalProperties` by comparing each key with the known names, never by
 * looking a client's key up on an object, so `__proto__` or `constructor` are just unknown fields.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { clientMessageSchemas, docDefaultKeyword } from "./clientMessageSchema.js";

const ajv = new Ajv({
  // The first error is enough for the one-per-case message, and stops early on a large message.
  allErrors: false,
  // error.data and error.parentSchema let the error message name the expectation and the bad value.
  verbose: true,
  ownProperties: true,
  strict: true,
  allowUnionTypes: false,
});
ajv.addKeyword(docDefaultKeyword);

/** The validator of each message type, in a map without a prototype (indexed by the client's `type`). */
export const clientMessageValidators: Readonly<Record<string, ValidateFunction>> = Object.assign(
  Object.create(null),
  Object.fromEntries(Object.entries(clientMessageSchemas).map(([type, schema]) => [type, ajv.compile(schema)])),
);

export type SchemaError = ErrorObject;
