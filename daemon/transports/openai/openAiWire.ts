/**
 * OpenAI's answer shapes: `chat.completion` / `text_completion` objects, their streamed chunks as
 * server-sent events ending in `data: [DONE]`, the usage (with cached prompt tokens), and errors as
 * `{error: {message, type, param, code}}` where `code` is tinyllamad's stable E_… code.
 */
import { packageVersion } from "../../packageVersion.js";
import type { DoneMessage, FinishReason } from "../../protocol/messages.js";
import type { AnswerWire, ApiDialect } from "../compat/ApiDialect.js";
import type { ApiRefusal } from "../compat/ApiRefusal.js";
import { httpStatusForCode } from "../compat/httpStatusForCode.js";

export const openAiDialect: ApiDialect = {
  errorBody: (error, status) => openAiError(error, status),
};

function openAiError(error: ApiRefusal, status: number) {
  return { error: { message: error.message, type: errorType(status), param: error.param, code: error.code } };
}

/** OpenAI's error families, by status (its SDKs pick their exception class from the status alone; 404 model_not_found is an invalid_request_error there too). */
function errorType(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 429) return "rate_limit_error";
  if (status >= 500) return "server_error";
  return "invalid_request_error";
}

export interface OpenAiAnswer {
  kind: "chat" | "completion";
  id: string;
  model: string;
  /** Which build and backend answered (OpenAI's fingerprint of the serving configuration), read when answering. */
  systemFingerprint: () => string;
  includeUsage: boolean;
}

export function systemFingerprint(backend: unknown): string {
  return `tinyllamad-${packageVersion()}-${typeof backend === "string" ? backend : "none"}`;
}

export function openAiWire(answer: OpenAiAnswer): AnswerWire {
  const created = Math.floor(Date.now() / 1000);
  const object = answer.kind === "chat" ? "chat.completion" : "text_completion";
  // A request made while the model loads is answered by the backend that loaded it.
  const head = () => ({
    id: answer.id,
    object,
    created,
    model: answer.model,
    system_fingerprint: answer.systemFingerprint(),
  });
  const chunkHead = () => ({ ...head(), object: answer.kind === "chat" ? "chat.completion.chunk" : "text_completion" });
  // With include_usage every chunk carries `usage: null` and one last chunk carries the figures.
  const usageField = answer.includeUsage ? { usage: null } : {};
  const event = (data: unknown) => `data: ${JSON.stringify(data)}\n\n`;
  const choiceChunk = (delta: Record<string, unknown> | string, finish: string | null) =>
    event({
      ...chunkHead(),
      choices: [
        answer.kind === "chat"
          ? { index: 0, delta, logprobs: null, finish_reason: finish }
          : { index: 0, text: delta, logprobs: null, finish_reason: finish },
      ],
      ...usageField,
    });
  let roleSent = false;
  // The chat stream opens with the assistant's role, as OpenAI's does; clients build the message from it.
  const opening = () => {
    if (answer.kind !== "chat" || roleSent) return "";
    roleSent = true;
    return choiceChunk({ role: "assistant", content: "" }, null);
  };
  return {
    streamContentType: "text/event-stream",
    piece: (text) => opening() + choiceChunk(answer.kind === "chat" ? { content: text } : text, null),
    streamEnd: (done) =>
      opening() +
      choiceChunk(answer.kind === "chat" ? {} : "", finishReason(done.finish_reason)) +
      (answer.includeUsage ? event({ ...chunkHead(), choices: [], usage: usage(done) }) : "") +
      "data: [DONE]\n\n",
    streamError: (error) => event(openAiError(error, httpStatusForCode(error.code))),
    body: (done) => ({
      ...head(),
      choices: [
        answer.kind === "chat"
          ? {
              index: 0,
              message: { role: "assistant", content: done.text, refusal: null },
              logprobs: null,
              finish_reason: finishReason(done.finish_reason),
            }
          : { index: 0, text: done.text, logprobs: null, finish_reason: finishReason(done.finish_reason) },
      ],
      usage: usage(done),
    }),
  };
}

/** A cancelled generation has no OpenAI reason; its client is gone by then (a disconnect cancels). */
function finishReason(reason: FinishReason): "stop" | "length" {
  return reason === "length" ? "length" : "stop";
}

function usage(done: DoneMessage) {
  return {
    prompt_tokens: done.usage.prompt_tokens,
    completion_tokens: done.usage.completion_tokens,
    total_tokens: done.usage.prompt_tokens + done.usage.completion_tokens,
    prompt_tokens_details: { cached_tokens: done.usage.cached_prompt_tokens },
  };
}
