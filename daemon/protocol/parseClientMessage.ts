/**
 * Turns raw bytes from any transport into a typed ClientMessage, or a ProtocolError that names
 * exactly what is wrong. Never throws, whatever the input: nesting is bounded before JSON.parse, the
 * shape is checked by the compiled schemas of clientMessageSchema.ts (unknown fields refused,
 * prototype names included), client strings never index a plain object, and anything unexpected
 * becomes E_INTERNAL for this message (the error's `cause` keeps the exception for the log).
 */
import { generateRequestSchema, maxIdLength, maxJsonDepth, requestFieldNames } from "./clientMessageSchema.js";
import { clientMessageValidators } from "./clientMessageValidators.js";
import { describeExpectation } from "./describeExpectation.js";
import { ProtocolError } from "./errorCodes.js";
import { jsonNestingDepth } from "./jsonNestingDepth.js";
import type { AdminRequest, CancelRequest, ChatMessage, ClientMessage, GenerateRequest } from "./messages.js";
import { schemaErrorToProtocolError, showValue } from "./schemaErrorToProtocolError.js";

export interface ProtocolLimits {
  /** Prompt characters (prompt, or all message contents together) accepted before tokenizing. */
  maxPromptChars: number;
  defaultMaxTokens: number;
  maxMaxTokens: number;
}

export type ParseResult =
  | { ok: true; message: ClientMessage }
  | {
      ok: false;
      id: string | null;
      error: ProtocolError;
      /**
       * Present when the payload was read as a JSON object: its `reply_to` if that was a string, where
       * the refusal can go without parsing the payload again. Absent when it was not read (not JSON,
       * or nested past the bound that guards JSON.parse).
       */
      routing?: { replyTo: string | undefined };
    };

type JsonObject = { readonly [field: string]: unknown };

export interface ParseOptions {
  /**
   * The type of a message that names none (MQTT's cancel topic takes `{"id":"…"}`); a message
   * that names another type is refused.
   */
  impliedType?: ClientMessage["type"];
}

export function parseClientMessage(
  raw: string | Buffer,
  limits: ProtocolLimits,
  options: ParseOptions = {},
): ParseResult {
  const seen: { routing?: { replyTo: string | undefined } } = {};
  const result = parseChecked(raw, limits, options, seen);
  return result.ok || seen.routing === undefined ? result : { ...result, routing: seen.routing };
}

function parseChecked(
  raw: string | Buffer,
  limits: ProtocolLimits,
  options: ParseOptions,
  seen: { routing?: { replyTo: string | undefined } },
): ParseResult {
  let id: string | null = null;
  try {
    const body = parseJsonObject(typeof raw === "string" ? raw : raw.toString("utf8"));
    if (body instanceof ProtocolError) return { ok: false, id: null, error: body };
    const claimedReplyTo = ownField(body, "reply_to");
    seen.routing = { replyTo: typeof claimedReplyTo === "string" ? claimedReplyTo : undefined };
    const claimedId = ownField(body, "id");
    if (typeof claimedId === "string" && claimedId.length > 0 && claimedId.length <= maxIdLength) id = claimedId;
    else
      return refuse(
        null,
        "E_BAD_REQUEST",
        `'id' must be ${describeExpectation(generateRequestSchema.properties.id)} (got ${showValue(claimedId)})`,
      );
    const { impliedType } = options;
    const type = ownField(body, "type");
    if (impliedType !== undefined && type !== undefined && type !== impliedType)
      return refuse(id, "E_BAD_REQUEST", `'type' must be ${JSON.stringify(impliedType)} here (or absent)`);
    const message = parseBody(withImpliedType(body, impliedType), limits);
    return message instanceof ProtocolError ? { ok: false, id, error: message } : { ok: true, message };
  } catch (unexpected) {
    const error = new ProtocolError("E_INTERNAL", "the message could not be checked (internal error)");
    error.cause = unexpected;
    return { ok: false, id, error };
  }
}

function refuse(id: string | null, code: ProtocolError["code"], message: string): ParseResult {
  return { ok: false, id, error: new ProtocolError(code, message) };
}

function parseJsonObject(text: string): JsonObject | ProtocolError {
  if (jsonNestingDepth(text, maxJsonDepth) > maxJsonDepth)
    return new ProtocolError(
      "E_BAD_REQUEST",
      `the message nests arrays and objects deeper than ${maxJsonDepth} levels`,
    );
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    return new ProtocolError("E_BAD_JSON", `not valid JSON: ${(error as Error).message}`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body))
    return new ProtocolError("E_BAD_REQUEST", "a message must be a JSON object");
  return body as JsonObject;
}

/** The body with `type` filled in when it names none; a different type is kept (and refused below). */
function withImpliedType(body: JsonObject, impliedType: ClientMessage["type"] | undefined): JsonObject {
  if (impliedType === undefined || Object.hasOwn(body, "type")) return body;
  // Spreading copies own properties only (a client's "__proto__" key stays an own, refused field).
  return { ...body, type: impliedType };
}

/** A field of the client's object only if the client set it: never one inherited from Object.prototype. */
function ownField(body: JsonObject, field: string): unknown {
  return Object.hasOwn(body, field) ? body[field] : undefined;
}

function parseBody(body: JsonObject, limits: ProtocolLimits): ClientMessage | ProtocolError {
  const type = ownField(body, "type");
  const validate =
    typeof type === "string" && Object.hasOwn(clientMessageValidators, type)
      ? clientMessageValidators[type]
      : undefined;
  if (typeof type !== "string" || validate === undefined)
    return new ProtocolError(
      "E_UNKNOWN_TYPE",
      `${type === undefined ? "the message has no type" : `unknown message type ${showValue(type)}`}; expected "generate", "cancel" or "admin"`,
    );
  // An admin request without a token is unauthorized whatever else it holds.
  if (type === "admin" && !Object.hasOwn(body, "token"))
    return new ProtocolError("E_UNAUTHORIZED", "admin requests need 'token'");
  if (!validate(body)) return schemaErrorToProtocolError(validate.errors);
  const fields = copyKnownFields(body, requestFieldNames(type));
  if (type === "generate") return completeGenerate(fields, limits);
  if (type === "cancel") return fields as unknown as CancelRequest;
  return completeAdmin(fields);
}

/** A fresh object with only the schema's fields, so nothing of the client's object travels further. */
function copyKnownFields(body: JsonObject, names: readonly string[]): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const name of names) if (Object.hasOwn(body, name)) fields[name] = body[name];
  return fields;
}

function completeGenerate(fields: Record<string, unknown>, limits: ProtocolLimits): GenerateRequest | ProtocolError {
  if ((fields.prompt === undefined) === (fields.messages === undefined))
    return new ProtocolError("E_BAD_REQUEST", "a generate request needs exactly one of 'prompt' or 'messages'");
  const maxTokens = fields.max_tokens ?? limits.defaultMaxTokens;
  if (typeof maxTokens !== "number" || maxTokens > limits.maxMaxTokens)
    return new ProtocolError(
      "E_BAD_REQUEST",
      `'max_tokens' must be an integer in 1..${limits.maxMaxTokens} (got ${showValue(maxTokens)})`,
    );
  const request = {
    ...fields,
    stop: typeof fields.stop === "string" ? [fields.stop] : fields.stop,
    max_tokens: maxTokens,
    priority: fields.priority ?? "interactive",
    stream: fields.stream ?? true,
  } as GenerateRequest;
  if (request.stop === undefined) delete request.stop;
  const chars = promptChars(request);
  if (chars > limits.maxPromptChars)
    return new ProtocolError(
      "E_PROMPT_TOO_LONG",
      `the prompt has ${chars} characters; at most ${limits.maxPromptChars} are accepted`,
    );
  return request;
}

function promptChars(request: { prompt?: string | undefined; messages?: ChatMessage[] | undefined }): number {
  if (request.prompt !== undefined) return request.prompt.length;
  return (request.messages ?? []).reduce((sum, message) => sum + message.content.length, 0);
}

function completeAdmin(fields: Record<string, unknown>): AdminRequest | ProtocolError {
  if (fields.action === "swap_model" && fields.model_path === undefined)
    return new ProtocolError("E_BAD_REQUEST", "swap_model needs 'model_path'");
  return fields as unknown as AdminRequest;
}
