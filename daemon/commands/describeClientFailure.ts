/**
 * What a client command (`run`, `ask`, `chat`) says when a request fails, and with which exit code:
 * the stable code first, then a hint at the usual cause.
 */
import { TinyllamadError } from "../../client/TinyllamadError.js";
import type { ErrorCode } from "../protocol/errorCodes.js";
import { EXIT_FAILED, EXIT_NOPERM, EXIT_TEMPFAIL, EXIT_UNAVAILABLE } from "./exitCodes.js";

const retryLater: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  "E_QUEUE_FULL",
  "E_NOT_READY",
  "E_SHUTTING_DOWN",
  "E_TOO_MANY_CONNECTIONS",
  "E_INTERRUPTED",
]);

const hints: Partial<Record<ErrorCode, string>> = {
  E_UNREACHABLE: "is it running? `tinyllamad serve`, or `systemctl start tinyllamad`",
  E_CONNECTION_LOST: "the daemon stopped or restarted; ask again",
  E_UNAUTHORIZED: "a wrong or missing token? --token, TINYLLAMAD_TOKEN or http.token",
  E_FORBIDDEN: "this address or origin is not allowed by the daemon's http.allowedHosts/allowedOrigins",
  E_PROMPT_TOO_LONG: "in chat, /reset starts a new conversation",
};

export function describeClientFailure(error: unknown): { message: string; exitCode: number } {
  if (!(error instanceof TinyllamadError)) return { message: String((error as Error)?.message ?? error), exitCode: 1 };
  const hint = hints[error.code];
  const message = `${error.code}: ${error.message}${hint === undefined ? "" : ` (${hint})`}`;
  if (error.code === "E_UNREACHABLE" || error.code === "E_CONNECTION_LOST")
    return { message, exitCode: EXIT_UNAVAILABLE };
  if (error.code === "E_UNAUTHORIZED" || error.code === "E_FORBIDDEN") return { message, exitCode: EXIT_NOPERM };
  if (retryLater.has(error.code)) return { message, exitCode: EXIT_TEMPFAIL };
  return { message, exitCode: EXIT_FAILED };
}
