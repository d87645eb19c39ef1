/**
 * What an admin swap_model answers. Refusals written by the daemon keep their words; anything else
 * (llama.cpp's load errors can quote the file) becomes one fixed message, the detail going to the log.
 */
import { type ErrorCode, isProtocolError } from "../protocol/errorCodes.js";

export type SwapOutcome = { ok: true; model: string } | { ok: false; code: ErrorCode; error: string };

/** Errors whose message the daemon wrote itself (fit and missing-file checks). */
const ownErrorNames = new Set(["ModelTooLargeError", "ModelMissingError"]);

export function swapFailure(error: unknown, firstLine: string): SwapOutcome {
  if (isProtocolError(error)) return { ok: false, code: error.code, error: error.message };
  if (error instanceof Error && ownErrorNames.has(error.name))
    return { ok: false, code: "E_BACKEND", error: firstLine };
  return { ok: false, code: "E_BACKEND", error: "the new model failed to load (the daemon's log has the reason)" };
}
