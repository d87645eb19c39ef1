import type { GenerationResult } from "../../hal/backends/Backend.js";
import type { DoneMessage } from "../protocol/messages.js";
import type { ScheduledJob } from "./ScheduledJob.js";

/**
 * The `done` answer of a job its backend finished: the result's text and token counts, and the
 * timings the job recorded (queue wait, time to first token, decode rate past the first token).
 */
export function doneMessage(job: ScheduledJob, result: GenerationResult): DoneMessage {
  const decodeMs = (job.lastTokenAt ?? 0) - (job.firstTokenAt ?? 0);
  return {
    type: "done",
    id: job.request.id,
    text: result.text,
    finish_reason: result.finishReason,
    usage: {
      prompt_tokens: result.promptTokens,
      completion_tokens: result.completionTokens,
      cached_prompt_tokens: result.reusedPromptTokens,
      evaluated_prompt_tokens: result.evaluatedPromptTokens,
    },
    timings: {
      queue_ms: round((job.startedAt ?? job.acceptedAt) - job.acceptedAt),
      ttft_ms: job.firstTokenAt === undefined ? null : round(job.firstTokenAt - job.acceptedAt),
      tokens_per_s:
        result.completionTokens > 1 && decodeMs > 0 ? round(((result.completionTokens - 1) * 1000) / decodeMs) : null,
    },
  };
}

/** One decimal: the timings are for people and dashboards, not for arithmetic. */
function round(value: number): number {
  return Math.round(value * 10) / 10;
}
