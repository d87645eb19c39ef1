/** The one prompt-fit check: at admission (the scheduler, for every transport) and again when a job runs. */
import type { Backend, GenerationJob } from "./Backend.js";
import { assertPromptFits } from "./text/assertPromptFits.js";

/**
 * The job's prompt tokens; throws ProtocolError(E_PROMPT_TOO_LONG) when the prompt leaves no room in
 * the backend's context for an answer.
 */
export function checkFits(backend: Pick<Backend, "countPromptTokens">, job: GenerationJob): number {
  const count = backend.countPromptTokens(job);
  assertPromptFits(count.tokens, count.contextSize, { approximate: count.approximate });
  return count.tokens;
}
