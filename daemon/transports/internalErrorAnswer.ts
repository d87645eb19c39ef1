/**
 * What a transport does with an exception its own code did not expect while handling one client
 * message: the stack goes to the log at error level, the client gets E_INTERNAL for that message
 * (with its id when known) and the daemon keeps serving. The exception's text is not sent: it may
 * name files or hold data that is no business of the client's.
 */
import type { Logger } from "../logging/createLogger.js";
import type { ErrorMessage } from "../protocol/messages.js";

export function internalErrorAnswer(log: Logger, id: string | null, error: unknown, what: string): ErrorMessage {
  const err = error instanceof Error ? error : new Error(`non-Error thrown: ${describe(error)}`);
  log.error({ err, id }, `unexpected error while ${what}; answered E_INTERNAL and serving on`);
  return {
    type: "error",
    id,
    error: { code: "E_INTERNAL", message: "an unexpected internal error; the daemon logged it and keeps serving" },
  };
}

/** String(value) throws for an object without a prototype; this does not. */
function describe(value: unknown): string {
  try {
    return String(value);
  } catch {
    return typeof value;
  }
}
