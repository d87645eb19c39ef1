/**
 * What an admin swap_model answers. Refusals written by the daemon keep their words; anything else
 * (llama.cpp's load errors can quote the file) becomes one fixed message, the detail going to the log.
 */
import { ModelMissingError } from "../../models/store/defaultModelLocation.js";
import { ModelTooLargeError } from "../backends/ModelTooLargeError.js";
import { type ErrorCode, isProtocolError } from "../protocol/errorCodes.js";

export type SwapOutcome = { ok: true; model: string; path?: string } | { ok: false; code: ErrorCode; error: string };

export function swapFailure(error: unknown, firstLine: string): SwapOutcome {
  if (isProtocolError(error)) return { ok: false, code: error.code, error: error.message };
  // Errors whose message the daemon wrote itself (fit and missing-file checks).
  if (error instanceof ModelTooLargeError || error instanceof ModelMissingError)
    return { ok: false, code: "E_BACKEND", error: firstLine };
  return { ok: false, code: "E_BACKEND", error: "the new model failed to load (the daemon's log has the reason)" };
}
