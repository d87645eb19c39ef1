/**
 * Samples an answer on a sequence whose prompt is evaluated but for its last chunk (`rest`, evaluated
 * here: its last token's logits sample the first new token), and streams its text: the sampling
 * settings, llama.cpp's repeat-penalty window, stop strings (never sent, even split across tokens),
 * whole UTF-8 characters only, the length bound and a cancel.
 */
import type { LlamaContextSequence, LlamaGrammarEvaluationState, LlamaModel, Token } from "node-llama-cpp";
import type { GenerationJob, GenerationResult } from "../Backend.js";
import { StopStringMatcher } from "../text/StopStringMatcher.js";
import { TokenTextStream } from "./TokenTextStream.js";

/** Tokens looked back on for repeat_penalty, as llama.cpp's default. */
const repeatPenaltyWindow = 64;

export interface SampledAnswer {
  text: string;
  completionTokens: number;
  finishReason: GenerationResult["finishReason"];
}

export async function sampleAnswer(
  sequence: LlamaContextSequence,
  model: LlamaModel,
  request: {
    job: GenerationJob;
    promptTokens: readonly Token[];
    /** The prompt tokens not evaluated yet. */
    rest: Token[];
    maxTokens: number;
    grammarState: LlamaGrammarEvaluationState | undefined;
    signal: AbortSignal;
    onFirstToken: () => void;
    onText: (text: string) => void;
  },
): Promise<SampledAnswer> {
  const { job, promptTokens, signal, onText } = request;
  let text = "";
  let completionTokens = 0;
  let finishReason: GenerationResult["finishReason"] = "stop";
  const history: Token[] = promptTokens.slice(-repeatPenaltyWindow);
  const textStream = new TokenTextStream(model, promptTokens);
  const stops = new StopStringMatcher(job.stop);
  const { temperature, topK, topP, minP, seed, repeatPenalty } = job.sampling;
  const tokens = sequence.evaluate(request.rest, {
    temperature,
    topK,
    topP,
    minP,
    seed,
    grammarEvaluationState: request.grammarState,
    repeatPenalty:
      repeatPenalty !== undefined && repeatPenalty !== 1
        ? { penalty: repeatPenalty, punishTokens: () => history.slice(-repeatPenaltyWindow) }
        : undefined,
  });
  for await (const token of tokens) {
    if (completionTokens === 0) request.onFirstToken();
    completionTokens += 1;
    history.push(token);
    const step = stops.push(textStream.push(token));
    if (step.text.length > 0) {
      text += step.text;
      onText(step.text);
    }
    if (step.stopped) break;
    if (signal.aborted) {
      finishReason = "cancelled";
      break;
    }
    if (completionTokens >= request.maxTokens) {
      finishReason = "length";
      break;
    }
  }
  if (signal.aborted) finishReason = "cancelled";
  if (finishReason !== "cancelled") {
    const rest = stops.push(textStream.flush());
    const tail = rest.stopped ? rest.text : rest.text + stops.flush();
    if (tail.length > 0) {
      text += tail;
      onText(tail);
    }
  }
  return { text, completionTokens, finishReason };
}
