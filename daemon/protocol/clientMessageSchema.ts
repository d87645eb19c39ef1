/**
 * The JSON Schemas of the messages a client may send: the single source of what parseClientMessage
 * accepts and of the request-field tables in docs/protocol.md (protocolDocs.ts renders them from the
 * `description`, `default` and `x-default` of each property). Every object refuses unknown fields
 * (`additionalProperties: false`), prototype names such as `__proto__` or `constructor` included.
 *
 * Bounds that depend on configuration (`limits.maxMaxTokens`, `limits.maxPromptChars`) are checked
 * after the schema by parseClientMessage, so that the validators are compiled once at start-up.
 */

/** The subset of JSON Schema these messages use; also what describeExpectation understands. */
export interface FieldSchema {
  type?: "string" | "number" | "integer" | "boolean" | "object" | "array";
  description?: string;
  /** A constant default, shown in the docs (the parser fills only max_tokens, priority and stream). */
  default?: unknown;
  /** Markdown for the docs' Default column where the default is not a constant (e.g. "random"). */
  "x-default"?: string;
  const?: string;
  enum?: readonly string[];
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
  items?: FieldSchema;
  anyOf?: readonly FieldSchema[];
  properties?: Readonly<Record<string, FieldSchema>>;
  required?: readonly string[];
  additionalProperties?: boolean;
}

/** The annotation keyword Ajv must be told about (strict mode refuses unknown keywords). */
export const docDefaultKeyword = "x-default";

/** Deepest nesting of arrays and objects in a message (json_schema needs some); checked before JSON.parse. */
export const maxJsonDepth = 64;
export const maxIdLength = 128;
export const maxStopStrings = 8;
export const maxStopLength = 128;
export const maxChatMessages = 1024;
export const maxReplyTopicLength = 512;
export const maxTokenLength = 1024;
export const maxModelPathLength = 4096;

const requestId: FieldSchema = {
  type: "string",
  minLength: 1,
  maxLength: maxIdLength,
  description: "your id for the request; every answer carries it; unique among your in-flight requests",
};

const stopString: FieldSchema = { type: "string", minLength: 1, maxLength: maxStopLength };

export const generateRequestSchema = {
  type: "object",
  additionalProperties: false,
  required: ["type", "id"],
  properties: {
    type: { const: "generate", description: "the message type" },
    id: requestId,
    prompt: {
      type: "string",
      "x-default": "—",
      description:
        "raw text continued by the model (BOS is prepended) — exactly one of `prompt` / `messages`; at most `limits.maxPromptChars` characters",
    },
    messages: {
      type: "array",
      minItems: 1,
      maxItems: maxChatMessages,
      "x-default": "—",
      description:
        "a chat, formatted with the model's chat template (TinyLlama: `<|system|>`, `<|user|>`, `<|assistant|>`, each closed by `</s>`); all contents together at most `limits.maxPromptChars` characters",
      items: {
        type: "object",
        additionalProperties: false,
        required: ["role", "content"],
        properties: {
          role: { type: "string", enum: ["system", "user", "assistant"] },
          content: { type: "string" },
        },
      },
    },
    max_tokens: {
      type: "integer",
      minimum: 1,
      "x-default": "`limits.defaultMaxTokens` (128)",
      description: "most tokens to generate (at most `limits.maxMaxTokens`; also cut to what fits the context)",
    },
    temperature: { type: "number", minimum: 0, maximum: 5, default: 0.8, description: "0 = greedy (deterministic)" },
    top_p: { type: "number", minimum: 0, maximum: 1, default: 0.95, description: "nucleus sampling" },
    top_k: { type: "integer", minimum: 0, maximum: 1000, default: 40, description: "0 = off" },
    min_p: {
      type: "number",
      minimum: 0,
      maximum: 1,
      default: 0.05,
      description: "minimum probability, relative to the likeliest token",
    },
    repeat_penalty: {
      type: "number",
      minimum: 0,
      maximum: 10,
      "x-default": "1 (off)",
      description: "over the last 64 tokens",
    },
    seed: {
      type: "integer",
      minimum: 0,
      maximum: 2 ** 32 - 1,
      "x-default": "random",
      description: "fixed seed for sampling",
    },
    stop: {
      anyOf: [stopString, { type: "array", maxItems: maxStopStrings, items: stopString }],
      "x-default": "none",
      description: "generation ends before any of these; the stop string is not returned",
    },
    json_schema: {
      type: "object",
      "x-default": "none",
      description: "constrain the output to JSON matching this schema (grammar)",
    },
    session: {
      type: "string",
      minLength: 1,
      maxLength: maxIdLength,
      "x-default": "none",
      description:
        "requests with the same session reuse the evaluated prefix of the previous one (faster TTFT for a repeated persona/history)",
    },
    priority: {
      type: "string",
      enum: ["interactive", "batch"],
      default: "interactive",
      description:
        "interactive requests are served before queued batch ones; clients take turns within a priority ([Scheduling](#scheduling-priorities-and-each-clients-share))",
    },
    deadline_ms: {
      type: "integer",
      minimum: 1,
      maximum: 24 * 3600 * 1000,
      "x-default": "none",
      description: "the request ends with `E_DEADLINE_EXCEEDED` if not finished in time (measured from acceptance)",
    },
    stream: { type: "boolean", default: true, description: "false: no `token` messages, only the final `done`" },
    reply_to: {
      type: "string",
      minLength: 1,
      maxLength: maxReplyTopicLength,
      "x-default": "—",
      description: "MQTT only: the topic to answer on when the request has no MQTT v5 response topic",
    },
  },
} as const satisfies FieldSchema;

export const cancelRequestSchema = {
  type: "object",
  additionalProperties: false,
  required: ["type", "id"],
  properties: {
    type: { const: "cancel", description: "the message type" },
    id: { ...requestId, description: "the id of the request to end" },
    reply_to: {
      type: "string",
      minLength: 1,
      maxLength: maxReplyTopicLength,
      "x-default": "—",
      description:
        "MQTT only: the reply topic the request named (its `reply_to`); a cancel reaches only a request with the same reply topic",
    },
  },
} as const satisfies FieldSchema;

export const adminRequestSchema = {
  type: "object",
  additionalProperties: false,
  required: ["type", "id", "token", "action"],
  properties: {
    type: { const: "admin", description: "the message type" },
    id: requestId,
    token: {
      type: "string",
      minLength: 0,
      maxLength: maxTokenLength,
      description: "`admin.token`; without it the request is refused with `E_UNAUTHORIZED`",
    },
    action: {
      type: "string",
      enum: ["swap_model", "status"],
      description: "`swap_model`: serve another model; `status`: the figures of `/healthz`",
    },
    model_path: {
      type: "string",
      minLength: 1,
      maxLength: maxModelPathLength,
      "x-default": "required for `swap_model`",
      description: "the GGUF file to serve from now on",
    },
  },
} as const satisfies FieldSchema;

/** The schema of each message type, in a map without a prototype so that a client's `type` indexes nothing else. */
export const clientMessageSchemas: Readonly<Record<string, FieldSchema>> = Object.assign(Object.create(null), {
  generate: generateRequestSchema,
  cancel: cancelRequestSchema,
  admin: adminRequestSchema,
});

const fieldNamesByType: Readonly<Record<string, readonly string[]>> = Object.assign(
  Object.create(null),
  Object.fromEntries(
    Object.entries(clientMessageSchemas).map(([type, schema]) => [type, Object.keys(schema.properties ?? {})]),
  ),
);

/** The fields a message of this type may carry (none for an unknown type). */
export function requestFieldNames(type: string): readonly string[] {
  return Object.hasOwn(fieldNamesByType, type) ? (fieldNamesByType[type] ?? []) : [];
}
