/**
 * Ollama's answer shapes: NDJSON lines of `{model, created_at, message|response, done}`, a last line
 * with `done: true`, `done_reason` and the timings in nanoseconds, and errors as `{error: "…"}` (plus
 * tinyllamad's stable `code`), which Ollama's clients read.
 */
import type { DoneMessage } from "../../protocol/messages.js";
import type { AnswerWire, ApiDialect } from "../compat/ApiDialect.js";
import type { ApiRefusal } from "../compat/ApiRefusal.js";

export const ollamaDialect: ApiDialect = {
  errorBody: (error) => ollamaError(error),
};

function ollamaError(error: ApiRefusal) {
  return { error: error.message, code: error.code };
}

const nsPerMs = 1_000_000;

/**
 * Ollama's timing fields, from the scheduler's timings: the prompt's evaluation is the time to the
 * first token less the time queued; generation is the rest. The model is resident: no load time.
 */
export function ollamaTimings(done: DoneMessage | undefined, elapsedMs: number) {
  const queueMs = done?.timings.queue_ms ?? 0;
  const firstTokenMs = done?.timings.ttft_ms ?? elapsedMs;
  return {
    total_duration: Math.round(elapsedMs * nsPerMs),
    load_duration: 0,
    prompt_eval_count: done?.usage.prompt_tokens ?? 0,
    prompt_eval_duration: Math.round(Math.max(0, firstTokenMs - queueMs) * nsPerMs),
    eval_count: done?.usage.completion_tokens ?? 0,
    eval_duration: Math.round(Math.max(0, elapsedMs - firstTokenMs) * nsPerMs),
  };
}

export function ollamaWire(kind: "chat" | "generate", model: string): AnswerWire {
  const head = () => ({ model, created_at: new Date().toISOString() });
  const text = (content: string) =>
    kind === "chat" ? { message: { role: "assistant", content } } : { response: content };
  const last = (done: DoneMessage, elapsedMs: number, content: string) => ({
    ...head(),
    ...text(content),
    done: true,
    done_reason: done.finish_reason === "length" ? "length" : "stop",
    ...ollamaTimings(done, elapsedMs),
  });
  const line = (value: unknown) => `${JSON.stringify(value)}\n`;
  return {
    streamContentType: "application/x-ndjson",
    piece: (content) => line({ ...head(), ...text(content), done: false }),
    streamEnd: (done, elapsedMs) => line(last(done, elapsedMs, "")),
    streamError: (error) => line(ollamaError(error)),
    body: (done, elapsedMs) => last(done, elapsedMs, done.text),
  };
}

/** Ollama's answer to a request with nothing to generate: the model is (already) loaded. */
export function ollamaLoadAnswer(kind: "chat" | "generate", model: string) {
  return {
    model,
    created_at: new Date().toISOString(),
    ...(kind === "chat" ? { message: { role: "assistant", content: "" } } : { response: "" }),
    done: true,
    done_reason: "load",
  };
}
