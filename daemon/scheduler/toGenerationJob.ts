import type { GenerationJob } from "../../hal/backends/Backend.js";
import type { GenerateRequest, SamplingOptions } from "../protocol/messages.js";

/** Sampling used when a request leaves a setting out (the same defaults as llama-server). */
export const defaultSampling: Required<Omit<SamplingOptions, "seed">> = {
  temperature: 0.8,
  topK: 40,
  topP: 0.95,
  minP: 0.05,
  repeatPenalty: 1,
};

export function toGenerationJob(request: GenerateRequest): GenerationJob {
  return {
    id: request.id,
    input:
      request.messages !== undefined
        ? { kind: "chat", messages: request.messages }
        : { kind: "prompt", prompt: request.prompt ?? "" },
    maxTokens: request.max_tokens,
    sampling: {
      temperature: request.temperature ?? defaultSampling.temperature,
      topK: request.top_k ?? defaultSampling.topK,
      topP: request.top_p ?? defaultSampling.topP,
      minP: request.min_p ?? defaultSampling.minP,
      repeatPenalty: request.repeat_penalty ?? defaultSampling.repeatPenalty,
      seed: request.seed,
    },
    stop: request.stop ?? [],
    jsonSchema: request.json_schema,
    session: request.session,
  };
}
