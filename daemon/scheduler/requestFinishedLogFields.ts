import type { FinalMessage } from "../protocol/messages.js";

/** What the "request finished" log line says of a final message: its outcome, token counts and timings. */
export function requestFinishedLogFields(message: FinalMessage): object {
  return message.type === "done"
    ? {
        id: message.id,
        outcome: message.finish_reason,
        completion_tokens: message.usage.completion_tokens,
        prompt_tokens: message.usage.prompt_tokens,
        ...message.timings,
      }
    : { id: message.id, outcome: "error", code: message.error.code };
}
