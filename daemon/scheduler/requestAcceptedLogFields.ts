import type { GenerateRequest } from "../protocol/messages.js";

/** What the "request accepted" debug line says of a request; its prompt only when scheduler.logPrompts asks. */
export function requestAcceptedLogFields(request: GenerateRequest, logPrompts: boolean | undefined): object {
  return {
    id: request.id,
    priority: request.priority,
    max_tokens: request.max_tokens,
    ...(logPrompts ? { prompt: request.prompt, messages: request.messages } : {}),
  };
}
