import type { Backend } from "../../hal/backends/Backend.js";
import { checkFits } from "../../hal/backends/checkFits.js";
import { isProtocolError, type ProtocolError } from "../protocol/errorCodes.js";
import type { GenerateRequest } from "../protocol/messages.js";
import { toGenerationJob } from "./toGenerationJob.js";

/**
 * The admission check: a prompt the backend's context cannot hold is refused before it is queued,
 * whatever transport it came in on. Without a backend yet (loading) it is checked when it runs.
 */
export function promptTooLong(backend: Backend | undefined, request: GenerateRequest): ProtocolError | undefined {
  if (backend === undefined) return undefined;
  try {
    checkFits(backend, toGenerationJob(request));
    return undefined;
  } catch (error) {
    // Anything else (a tokenizer fault) is the run's to report, as E_BACKEND with a fallback.
    return isProtocolError(error) ? error : undefined;
  }
}
