/**
 * The catalogue of error codes a client can receive. Codes are stable: a code is never renamed
 * or reused for a different meaning. Every code here is documented in docs/protocol.md.
 *
 * The one catalogue for the whole program: it lives below the engine (hal/, models/) and the daemon so
 * that both raise the same coded errors without the engine importing the daemon; daemon/protocol/errorCodes.ts
 * re-exports it for the daemon's parts.
 */
export const errorCatalogue = {
  E_BAD_JSON: "The message is not valid JSON.",
  E_BAD_REQUEST: "The message is JSON but a field is missing, of the wrong type or out of range.",
  E_UNKNOWN_TYPE: "The message's `type` is not one the protocol knows.",
  E_MESSAGE_TOO_LARGE: "The message is larger than the transport's maximum message size.",
  E_PROMPT_TOO_LONG: "The prompt (plus max_tokens) does not fit the model's context window.",
  E_DUPLICATE_ID: "A request with this id is still in flight from the same client.",
  E_NOT_FOUND: "A cancel named an id that is not in flight, or not one of this client's requests.",
  E_QUEUE_FULL: "The request queue is full; retry later or send it to another node.",
  E_DEADLINE_EXCEEDED: "The request's deadline_ms passed before it could finish.",
  E_UNAUTHORIZED: "A valid bearer token is required.",
  E_BAD_SCHEMA: "json_schema could not be turned into a grammar.",
  E_BAD_TOPIC:
    "A reply topic given by the client is not allowed (wildcards, $-topics, too long, or under the daemons' base topic).",
  E_SHUTTING_DOWN: "The daemon is stopping and accepts no new work.",
  E_NOT_READY: "The daemon has no model loaded yet.",
  E_BACKEND: "The inference backend failed while serving this request.",
  E_INTERRUPTED: "The daemon restarted while answering; the answer is incomplete. Send the request again.",
  E_INTERNAL: "An unexpected internal error; the daemon keeps serving.",
  E_TIMEOUT: "An operator request (admin swap_model) did not finish within its time limit; nothing changed.",
  E_FORBIDDEN: "The request's Origin or Host is not allowed, or the caller may not do this.",
  E_TOO_MANY_CONNECTIONS: "The WebSocket connection limit is reached; retry later or use another node.",
  E_UNREACHABLE: "Client library: the daemon could not be reached (nothing listening, or it kept refusing) in time.",
  E_CONNECTION_LOST:
    "Client library: the connection closed before the request's final answer; the daemon cancels what it was answering.",
  E_MODEL_NOT_FOUND:
    "The request names a model this node does not serve (the OpenAI- and Ollama-compatible HTTP APIs' `model`).",
} as const;

export type ErrorCode = keyof typeof errorCatalogue;

/** An error that is reported to a client with a stable code. */
export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
  constructor(
    readonly code: ErrorCode,
    message: string = errorCatalogue[code],
  ) {
    super(message);
  }
}

export function isProtocolError(error: unknown): error is ProtocolError {
  return error instanceof ProtocolError;
}
