import type { ServerResponse } from "node:http";
import type { ApiDialect } from "./ApiDialect.js";
import type { ApiRefusal } from "./ApiRefusal.js";
import { httpStatusForCode, retryAfterHeader } from "./httpStatusForCode.js";

/** Answers a refusal with its status (and Retry-After, WWW-Authenticate where they belong) in the dialect's shape. */
export function sendApiError(
  response: ServerResponse,
  dialect: ApiDialect,
  error: ApiRefusal,
  headers: Record<string, string> = {},
): void {
  const status = httpStatusForCode(error.code);
  response.writeHead(status, {
    ...headers,
    ...retryAfterHeader(error.code),
    ...(status === 401 ? { "www-authenticate": "Bearer" } : {}),
    // The unread rest of a body over the limit is not worth reading: the connection ends with the answer.
    ...(status === 413 ? { connection: "close" } : {}),
    "content-type": "application/json",
    "cache-control": "no-store",
  });
  response.end(JSON.stringify(dialect.errorBody(error, status)));
}
