/** The prompt-length check every backend makes before it queues or runs a job. */
import { ProtocolError } from "../../../protocol/errorCodes.js";

/**
 * Throws E_PROMPT_TOO_LONG when the prompt leaves no room in the context for an answer.
 * `approximate` says the count is an estimate (a backend without the model's own tokenizer).
 */
export function assertPromptFits(
  promptTokens: number,
  contextSize: number,
  options: { approximate?: boolean } = {},
): void {
  if (promptTokens < contextSize) return;
  throw new ProtocolError(
    "E_PROMPT_TOO_LONG",
    `the prompt is ${options.approximate ? "about " : ""}${promptTokens} tokens; the context holds ${contextSize} (prompt and answer together)`,
  );
}
