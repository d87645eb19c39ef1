/**
 * An Ollama `POST /api/chat` or `/api/generate` body, translated into the one protocol's generation
 * fields. `options` map to sampling; options that set up a model's runtime (num_ctx, num_thread, …)
 * are accepted and change nothing here (the daemon's configuration sets them, docs/http.md); sampling
 * options tinyllamad cannot honour are refused unless they hold the value that changes nothing.
 * `keep_alive` is accepted: the model stays loaded for as long as the daemon runs.
 */
import type { ChatMessage } from "../../protocol/messages.js";
import type { ProtocolLimits } from "../../protocol/parseClientMessage.js";
import { badField } from "../compat/ApiRefusal.js";
import { BodyFields } from "../compat/BodyFields.js";
import type { JsonBody } from "../compat/readJsonBody.js";
import type { GenerationFields } from "../compat/toGenerateRequest.js";

export interface OllamaRequest {
  model: string;
  fields: GenerationFields;
  stream: boolean;
  /** No prompt or messages: Ollama's way to load a model (answered at once with done_reason "load"). */
  loadOnly: boolean;
}

/** Options that set up the model's runtime in Ollama; here the daemon's configuration does. */
const runtimeOptions = [
  "num_ctx",
  "num_batch",
  "num_gpu",
  "main_gpu",
  "num_thread",
  "num_keep",
  "use_mmap",
  "use_mlock",
  "numa",
  "low_vram",
  "vocab_only",
  "f16_kv",
  "logits_all",
  "penalize_newline",
];

export function readOllamaRequest(body: JsonBody, kind: "chat" | "generate", limits: ProtocolLimits): OllamaRequest {
  const fields = new BodyFields(body);
  // `name` is the older spelling some clients still send.
  const model = fields.string("model") ?? fields.string("name");
  if (model === undefined || model.length === 0) throw badField("model", "'model' is required");
  const input = kind === "chat" ? readChat(fields) : readGenerate(fields);
  const stream = fields.boolean("stream") ?? true;
  const format = readFormat(fields);
  const options = fields.object("options");
  const sampling = options === undefined ? {} : readOptions(options, limits);
  fields.take("keep_alive"); // accepted, any form: see docs/http.md
  fields.onlyNeutral("think", (value) => value === false, "is not supported: this model does not think");
  fields.onlyNeutral(
    "tools",
    (value) => Array.isArray(value) && value.length === 0,
    "is not supported: tools and function calling are not supported by tinyllamad",
  );
  fields.refuseUnread();
  const loadOnly = input.messages === undefined ? input.prompt === undefined : input.messages.length === 0;
  return { model, fields: { ...input, ...sampling, json_schema: format }, stream, loadOnly };
}

function readChat(fields: BodyFields): Pick<GenerationFields, "prompt" | "messages"> {
  const raw = fields.array("messages") ?? [];
  const messages = raw.map((item, index): ChatMessage => {
    const where = `messages[${index}]`;
    if (typeof item !== "object" || item === null || Array.isArray(item))
      throw badField(where, `'${where}' must be an object`);
    const message = new BodyFields(item as JsonBody, `${where}.`);
    const role = message.requiredString("role");
    if (role !== "system" && role !== "user" && role !== "assistant")
      throw badField(`${where}.role`, `'${where}.role' must be system, user or assistant (tools are not supported)`);
    const content = message.string("content") ?? "";
    message.onlyNeutral("images", isEmptyList, "is not supported: this model reads text only");
    message.onlyNeutral("tool_calls", isEmptyList, "is not supported: tools are not supported");
    message.onlyNeutral("thinking", (value) => value === "", "is not supported: this model does not think");
    message.refuseUnread();
    return { role, content };
  });
  return { messages };
}

/** Ollama's generate applies the chat template (with `system`) unless `raw`; tinyllamad does the same. */
function readGenerate(fields: BodyFields): Pick<GenerationFields, "prompt" | "messages"> {
  const prompt = fields.string("prompt");
  const system = fields.string("system");
  const raw = fields.boolean("raw") ?? false;
  fields.onlyNeutral("images", isEmptyList, "is not supported: this model reads text only");
  fields.onlyNeutral("suffix", (value) => value === "", "is not supported (fill-in-the-middle)");
  fields.onlyNeutral("template", (value) => value === "", "is not supported: the model's chat template is used");
  fields.onlyNeutral("context", isEmptyList, "is not supported (deprecated by Ollama): send the history to /api/chat");
  if (prompt === undefined || prompt.length === 0) return {};
  if (raw) {
    if (system !== undefined) throw badField("system", "'system' has no place in a raw prompt");
    return { prompt };
  }
  const messages: ChatMessage[] = system ? [{ role: "system", content: system }] : [];
  return { messages: [...messages, { role: "user", content: prompt }] };
}

/** format: "json" (any JSON), a JSON schema (through the grammar), or "" (none). */
function readFormat(fields: BodyFields): Record<string, unknown> | undefined {
  const format = fields.take("format");
  if (format === undefined || format === "") return undefined;
  if (format === "json") return { type: "object", additionalProperties: true };
  if (typeof format === "object" && !Array.isArray(format)) return format as Record<string, unknown>;
  throw badField("format", "'format' must be \"json\" or a JSON schema object");
}

function readOptions(options: BodyFields, limits: ProtocolLimits): GenerationFields {
  const numPredict = options.integer("num_predict");
  const stop = options.take("stop");
  if (stop !== undefined && !(Array.isArray(stop) && stop.every((item) => typeof item === "string")))
    throw badField("options.stop", "'options.stop' must be an array of strings");
  const sampling: GenerationFields = {
    temperature: options.number("temperature"),
    top_p: options.number("top_p"),
    top_k: options.integer("top_k"),
    min_p: options.number("min_p"),
    seed: options.integer("seed"),
    repeat_penalty: options.number("repeat_penalty"),
    stop: stop as string[] | undefined,
    // -1 (until done) and -2 (fill the context): as many as allowed; the backend cuts to what fits.
    max_tokens: numPredict !== undefined && numPredict < 0 ? limits.maxMaxTokens : numPredict,
  };
  options.accept(...runtimeOptions);
  options.onlyNeutral("mirostat", (value) => value === 0, "is not supported (only 0)");
  options.accept("mirostat_eta", "mirostat_tau"); // they act only with mirostat on, refused above
  options.onlyNeutral("tfs_z", (value) => value === 1, "is not supported (only 1)");
  options.onlyNeutral("typical_p", (value) => value === 1, "is not supported (only 1)");
  options.onlyNeutral("repeat_last_n", (value) => value === 64, "is fixed at 64 here");
  options.onlyNeutral("presence_penalty", (value) => value === 0, "is not supported (only 0); use repeat_penalty");
  options.onlyNeutral("frequency_penalty", (value) => value === 0, "is not supported (only 0); use repeat_penalty");
  options.refuseUnread();
  return sampling;
}

function isEmptyList(value: unknown): boolean {
  return Array.isArray(value) && value.length === 0;
}
