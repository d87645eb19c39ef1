/**
 * Turns raw bytes from any transport into a typed ClientMessage, or a ProtocolError that names
 * exactly what is wrong. Never throws for client input.
 */
import { ProtocolError } from "./errorCodes.js";
import type { AdminRequest, CancelRequest, ChatMessage, ClientMessage, GenerateRequest } from "./messages.js";

export interface ProtocolLimits {
  /** Prompt characters (prompt, or all message contents together) accepted before tokenizing. */
  maxPromptChars: number;
  defaultMaxTokens: number;
  maxMaxTokens: number;
}

export type ParseResult = { ok: true; message: ClientMessage } | { ok: false; id: string | null; error: ProtocolError };

const maxIdLength = 128;
const maxStopStrings = 8;
const maxStopLength = 128;
const chatRoles = new Set(["system", "user", "assistant"]);

type FieldCheck = (value: unknown, field: string) => void;

function fail(field: string, expected: string, value: unknown): never {
  const shown = typeof value === "string" ? JSON.stringify(value.slice(0, 40)) : JSON.stringify(value);
  throw new ProtocolError("E_BAD_REQUEST", `'${field}' must be ${expected} (got ${shown ?? typeof value})`);
}

const isString =
  (min = 0, max = Number.POSITIVE_INFINITY): FieldCheck =>
  (value, field) => {
    if (typeof value !== "string" || value.length < min || value.length > max)
      fail(field, `a string of ${min}..${max} characters`, value);
  };

const isNumber =
  (min: number, max: number, integer = false): FieldCheck =>
  (value, field) => {
    if (typeof value !== "number" || !Number.isFinite(value) || value < min || value > max)
      fail(field, `a${integer ? "n integer" : " number"} in ${min}..${max}`, value);
    if (integer && !Number.isInteger(value)) fail(field, `an integer in ${min}..${max}`, value);
  };

const isBoolean: FieldCheck = (value, field) => {
  if (typeof value !== "boolean") fail(field, "true or false", value);
};

const isOneOf =
  (...allowed: string[]): FieldCheck =>
  (value, field) => {
    if (typeof value !== "string" || !allowed.includes(value)) fail(field, `one of ${allowed.join(", ")}`, value);
  };

const isObject: FieldCheck = (value, field) => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) fail(field, "a JSON object", value);
};

const isStopList: FieldCheck = (value, field) => {
  const list = typeof value === "string" ? [value] : value;
  if (!Array.isArray(list) || list.length > maxStopStrings)
    fail(field, `a string or up to ${maxStopStrings} strings`, value);
  for (const item of list) isString(1, maxStopLength)(item, `${field}[]`);
};

const isMessageList: FieldCheck = (value, field) => {
  if (!Array.isArray(value) || value.length === 0) fail(field, "a non-empty array of {role, content}", value);
  value.forEach((item: unknown, index) => {
    isObject(item, `${field}[${index}]`);
    const message = item as Record<string, unknown>;
    if (typeof message.role !== "string" || !chatRoles.has(message.role))
      fail(`${field}[${index}].role`, "one of system, user, assistant", message.role);
    isString()(message.content, `${field}[${index}].content`);
    for (const key of Object.keys(message))
      if (key !== "role" && key !== "content")
        fail(`${field}[${index}].${key}`, "absent (unknown field)", message[key]);
  });
};

function generateFieldChecks(limits: ProtocolLimits): Record<string, FieldCheck> {
  return {
    type: isOneOf("generate"),
    id: isString(1, maxIdLength),
    prompt: isString(),
    messages: isMessageList,
    max_tokens: isNumber(1, limits.maxMaxTokens, true),
    temperature: isNumber(0, 5),
    top_p: isNumber(0, 1),
    top_k: isNumber(0, 1000, true),
    min_p: isNumber(0, 1),
    repeat_penalty: isNumber(0, 10),
    seed: isNumber(0, 2 ** 32 - 1, true),
    stop: isStopList,
    json_schema: isObject,
    session: isString(1, maxIdLength),
    priority: isOneOf("interactive", "batch"),
    deadline_ms: isNumber(1, 24 * 3600 * 1000, true),
    stream: isBoolean,
    reply_to: isString(1, 512),
  };
}

function checkFields(body: Record<string, unknown>, checks: Record<string, FieldCheck>): void {
  for (const [field, value] of Object.entries(body)) {
    const check = checks[field];
    if (check === undefined) throw new ProtocolError("E_BAD_REQUEST", `unknown field '${field}'`);
    if (value !== undefined) check(value, field);
  }
}

function promptChars(request: { prompt?: string | undefined; messages?: ChatMessage[] | undefined }): number {
  if (request.prompt !== undefined) return request.prompt.length;
  return (request.messages ?? []).reduce((sum, message) => sum + message.content.length, 0);
}

function parseGenerate(body: Record<string, unknown>, limits: ProtocolLimits): GenerateRequest {
  checkFields(body, generateFieldChecks(limits));
  const hasPrompt = body.prompt !== undefined;
  const hasMessages = body.messages !== undefined;
  if (hasPrompt === hasMessages)
    throw new ProtocolError("E_BAD_REQUEST", "a generate request needs exactly one of 'prompt' or 'messages'");
  const request = {
    ...body,
    stop: typeof body.stop === "string" ? [body.stop] : body.stop,
    max_tokens: body.max_tokens ?? limits.defaultMaxTokens,
    priority: body.priority ?? "interactive",
    stream: body.stream ?? true,
  } as GenerateRequest;
  const chars = promptChars(request);
  if (chars > limits.maxPromptChars)
    throw new ProtocolError(
      "E_PROMPT_TOO_LONG",
      `the prompt has ${chars} characters; at most ${limits.maxPromptChars} are accepted`,
    );
  return request;
}

function parseCancel(body: Record<string, unknown>): CancelRequest {
  checkFields(body, { type: isOneOf("cancel"), id: isString(1, maxIdLength) });
  return body as unknown as CancelRequest;
}

function parseAdmin(body: Record<string, unknown>): AdminRequest {
  checkFields(body, {
    type: isOneOf("admin"),
    id: isString(1, maxIdLength),
    token: isString(0, 1024),
    action: isOneOf("swap_model", "status"),
    model_path: isString(1, 4096),
  });
  if (body.token === undefined) throw new ProtocolError("E_UNAUTHORIZED", "admin requests need 'token'");
  if (body.action === undefined) throw new ProtocolError("E_BAD_REQUEST", "'action' must be one of swap_model, status");
  if (body.action === "swap_model" && body.model_path === undefined)
    throw new ProtocolError("E_BAD_REQUEST", "swap_model needs 'model_path'");
  return body as unknown as AdminRequest;
}

export function parseClientMessage(raw: string | Buffer, limits: ProtocolLimits): ParseResult {
  let body: unknown;
  try {
    body = JSON.parse(typeof raw === "string" ? raw : raw.toString("utf8"));
  } catch (error) {
    return {
      ok: false,
      id: null,
      error: new ProtocolError("E_BAD_JSON", `not valid JSON: ${(error as Error).message}`),
    };
  }
  if (typeof body !== "object" || body === null || Array.isArray(body))
    return {
      ok: false,
      id: null,
      error: new ProtocolError("E_BAD_REQUEST", "a message must be a JSON object"),
    };
  const fields = body as Record<string, unknown>;
  const id =
    typeof fields.id === "string" && fields.id.length > 0 && fields.id.length <= maxIdLength ? fields.id : null;
  try {
    if (id === null) isString(1, maxIdLength)(fields.id, "id");
    if (fields.type === "generate") return { ok: true, message: parseGenerate(fields, limits) };
    if (fields.type === "cancel") return { ok: true, message: parseCancel(fields) };
    if (fields.type === "admin") return { ok: true, message: parseAdmin(fields) };
    throw new ProtocolError(
      "E_UNKNOWN_TYPE",
      `unknown message type ${JSON.stringify(fields.type)}; expected "generate", "cancel" or "admin"`,
    );
  } catch (error) {
    if (error instanceof ProtocolError) return { ok: false, id, error };
    throw error;
  }
}
