/**
 * An OpenAI `POST /v1/chat/completions` or `/v1/completions` body, translated field by field into the
 * one protocol's generation fields. Every field OpenAI defines is mapped, accepted where it changes
 * nothing here (documented in docs/http.md), or refused with a 400 naming it: none is silently
 * ignored. llama-server's extensions that tinyllamad has (top_k, min_p, repeat_penalty, cache_prompt)
 * are accepted too, so its clients work unchanged.
 */

import type { ChatMessage } from "../../protocol/messages.js";
import { badField } from "../compat/ApiRefusal.js";
import { BodyFields } from "../compat/BodyFields.js";
import type { JsonBody } from "../compat/readJsonBody.js";
import type { GenerationFields } from "../compat/toGenerateRequest.js";

export interface OpenAiRequest {
  model: string;
  fields: GenerationFields;
  stream: boolean;
  /** stream_options.include_usage: a last chunk with the usage before [DONE]. */
  includeUsage: boolean;
  /** The end user the client names: the scheduler's unit of fairness when given. */
  user: string | undefined;
}

export function readOpenAiRequest(body: JsonBody, kind: "chat" | "completion"): OpenAiRequest {
  const fields = new BodyFields(body);
  const model = fields.requiredString("model");
  const input = kind === "chat" ? { messages: readMessages(fields) } : { prompt: readPrompt(fields) };
  const stream = fields.boolean("stream") ?? false;
  const streamOptions = fields.object("stream_options");
  const includeUsage = streamOptions?.boolean("include_usage") ?? false;
  streamOptions?.refuseUnread();
  if (streamOptions !== undefined && !stream)
    throw badField("stream_options", "'stream_options' is only allowed when 'stream' is true");
  const generation: GenerationFields = {
    ...input,
    max_tokens: readMaxTokens(fields, kind),
    temperature: fields.number("temperature"),
    top_p: fields.number("top_p"),
    seed: fields.integer("seed"),
    stop: readStop(fields),
    json_schema: readResponseFormat(fields),
    top_k: fields.integer("top_k"),
    min_p: fields.number("min_p"),
    repeat_penalty: fields.number("repeat_penalty"),
  };
  const user = fields.string("user");
  refuseWhatCannotBeHonoured(fields, kind);
  fields.refuseUnread();
  return { model, fields: generation, stream, includeUsage, user };
}

function readMessages(fields: BodyFields): ChatMessage[] {
  const raw = fields.array("messages");
  if (raw === undefined || raw.length === 0) throw badField("messages", "'messages' must hold at least one message");
  return raw.map((item, index) => {
    const where = `messages[${index}]`;
    if (typeof item !== "object" || item === null || Array.isArray(item))
      throw badField(where, `'${where}' must be an object`);
    const message = new BodyFields(item as JsonBody, `${where}.`);
    const role = message.requiredString("role");
    const content = readContent(message, where);
    if (role === "tool" || role === "function")
      throw badField(`${where}.role`, `'${where}.role' ${role}: tools and function calling are not supported`);
    if (role !== "system" && role !== "developer" && role !== "user" && role !== "assistant")
      throw badField(`${where}.role`, `'${where}.role' must be system, developer, user or assistant`);
    message.onlyNeutral("tool_calls", isEmptyList, "is not supported: tools and function calling are not supported");
    message.accept("refusal"); // an assistant message echoed back; its text is in content
    message.refuseUnread();
    // The chat template knows system, user and assistant; "developer" is OpenAI's newer name for system.
    return { role: role === "developer" ? "system" : role, content };
  });
}

/** A string, or the text parts of a content array (images and audio are refused). */
function readContent(message: BodyFields, where: string): string {
  const content = message.take("content");
  if (content === undefined) return "";
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) throw badField(`${where}.content`, `'${where}.content' must be a string or an array`);
  return content
    .map((part, index) => {
      const at = `${where}.content[${index}]`;
      if (typeof part !== "object" || part === null) throw badField(at, `'${at}' must be an object`);
      const piece = new BodyFields(part as JsonBody, `${at}.`);
      const type = piece.requiredString("type");
      if (type !== "text") throw badField(`${at}.type`, `'${at}.type' ${type}: only text content is supported`);
      const text = piece.requiredString("text");
      piece.refuseUnread();
      return text;
    })
    .join("\n");
}

function readPrompt(fields: BodyFields): string {
  const prompt = fields.take("prompt");
  if (typeof prompt === "string") return prompt;
  if (Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] === "string") return prompt[0];
  throw badField("prompt", "'prompt' must be a string (or an array of one string; token arrays are not supported)");
}

function readMaxTokens(fields: BodyFields, kind: "chat" | "completion"): number | undefined {
  const maxTokens = fields.integer("max_tokens");
  const maxCompletionTokens = kind === "chat" ? fields.integer("max_completion_tokens") : undefined;
  if (maxTokens !== undefined && maxCompletionTokens !== undefined && maxTokens !== maxCompletionTokens)
    throw badField("max_completion_tokens", "give 'max_completion_tokens' or 'max_tokens', not two different values");
  return maxCompletionTokens ?? maxTokens;
}

function readStop(fields: BodyFields): string[] | undefined {
  const stop = fields.take("stop");
  if (stop === undefined) return undefined;
  if (typeof stop === "string") return [stop];
  if (Array.isArray(stop) && stop.every((item) => typeof item === "string")) return stop;
  throw badField("stop", "'stop' must be a string or an array of strings");
}

/** response_format: text (nothing), json_object (any JSON object) or json_schema (its schema), through the grammar. */
function readResponseFormat(fields: BodyFields): Record<string, unknown> | undefined {
  const format = fields.object("response_format");
  if (format === undefined) return undefined;
  const type = format.requiredString("type");
  let schema: Record<string, unknown> | undefined;
  if (type === "json_object") schema = { type: "object", additionalProperties: true };
  else if (type === "json_schema") {
    const jsonSchema = format.object("json_schema");
    if (jsonSchema === undefined)
      throw badField("response_format.json_schema", "'response_format.json_schema' is required");
    jsonSchema.requiredString("name");
    jsonSchema.accept("description", "strict"); // the grammar always holds the output to the schema
    const raw = jsonSchema.take("schema");
    if (typeof raw !== "object" || raw === null || Array.isArray(raw))
      throw badField("response_format.json_schema.schema", "'response_format.json_schema.schema' must be an object");
    schema = raw as Record<string, unknown>;
    jsonSchema.refuseUnread();
  } else if (type !== "text")
    throw badField("response_format.type", "'response_format.type' must be text, json_object or json_schema");
  format.refuseUnread();
  return schema;
}

/** Fields accepted only where they change nothing; anything else is refused, never ignored. */
function refuseWhatCannotBeHonoured(fields: BodyFields, kind: "chat" | "completion"): void {
  fields.onlyNeutral("n", (value) => value === 1, "must be 1: tinyllamad generates one choice per request");
  fields.onlyNeutral("presence_penalty", (value) => value === 0, "is not supported (only 0); use repeat_penalty");
  fields.onlyNeutral("frequency_penalty", (value) => value === 0, "is not supported (only 0); use repeat_penalty");
  fields.onlyNeutral("logit_bias", isEmptyObject, "is not supported (only {})");
  fields.onlyNeutral("logprobs", (value) => value === false || value === 0, "is not supported");
  fields.onlyNeutral("top_logprobs", (value) => value === 0, "is not supported");
  fields.onlyNeutral("store", (value) => value === false, "is not supported: nothing is stored");
  fields.accept("cache_prompt"); // llama-server's: prefix reuse is always on here
  if (kind === "chat") {
    const tools = "is not supported: tools and function calling are not supported by tinyllamad";
    fields.onlyNeutral("tools", isEmptyList, tools);
    fields.onlyNeutral("functions", isEmptyList, tools);
    fields.onlyNeutral("tool_choice", (value) => value === "none", tools);
    fields.onlyNeutral("function_call", (value) => value === "none", tools);
    fields.accept("parallel_tool_calls"); // means nothing without tools, which are refused above
  } else {
    fields.onlyNeutral("echo", (value) => value === false, "is not supported");
    fields.onlyNeutral("best_of", (value) => value === 1, "must be 1");
    fields.onlyNeutral("suffix", (value) => value === "", "is not supported");
  }
}

function isEmptyList(value: unknown): boolean {
  return Array.isArray(value) && value.length === 0;
}

function isEmptyObject(value: unknown): boolean {
  return typeof value === "object" && value !== null && Object.keys(value).length === 0;
}
