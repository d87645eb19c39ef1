/**
 * The one mapping from the error catalogue to HTTP statuses, for every HTTP API: a client of either
 * API (or curl) sees the same status for the same cause, and the stable E_… code in the body.
 */
import type { ErrorCode } from "../../protocol/errorCodes.js";

const statusByCode: Readonly<Record<ErrorCode, number>> = {
  E_BAD_JSON: 400,
  E_BAD_REQUEST: 400,
  E_UNKNOWN_TYPE: 400,
  // OpenAI answers 400 (context_length_exceeded) for a prompt the context cannot hold; 413 is for bodies.
  E_PROMPT_TOO_LONG: 400,
  E_DUPLICATE_ID: 400,
  E_BAD_SCHEMA: 400,
  E_BAD_TOPIC: 400,
  E_UNAUTHORIZED: 401,
  E_FORBIDDEN: 403,
  E_NOT_FOUND: 404,
  E_MODEL_NOT_FOUND: 404,
  E_MESSAGE_TOO_LARGE: 413,
  E_QUEUE_FULL: 429,
  E_INTERNAL: 500,
  E_BACKEND: 500,
  E_INTERRUPTED: 500,
  E_NOT_READY: 503,
  E_SHUTTING_DOWN: 503,
  E_TOO_MANY_CONNECTIONS: 503,
  E_DEADLINE_EXCEEDED: 504,
  E_TIMEOUT: 504,
  // Raised by the client library only (docs/client.md); listed so the mapping stays total.
  E_UNREACHABLE: 502,
  E_CONNECTION_LOST: 502,
};

/** Seconds a client should wait before retrying, for the statuses that invite a retry. */
const retryAfterSecondsByCode: Partial<Record<ErrorCode, number>> = {
  E_QUEUE_FULL: 2,
  E_NOT_READY: 10,
  E_SHUTTING_DOWN: 5,
  E_TOO_MANY_CONNECTIONS: 5,
};

export function httpStatusForCode(code: ErrorCode): number {
  return statusByCode[code];
}

/** The Retry-After header for a code that invites a retry (429, 503), else none. */
export function retryAfterHeader(code: ErrorCode): Record<string, string> {
  const seconds = retryAfterSecondsByCode[code];
  return seconds === undefined ? {} : { "retry-after": String(seconds) };
}
