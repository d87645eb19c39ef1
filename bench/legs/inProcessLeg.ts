/** node-llama-cpp called in-process, the way an application embedding it would. */
import { getLlama, type Token } from "node-llama-cpp";
import { type GenerationTiming, timingFrom } from "../measurements.js";

export async function inProcessDecode(
  modelPath: string,
  threads: number,
  prompts: string[],
  tokens: number,
): Promise<GenerationTiming[]> {
  const llama = await getLlama({ gpu: false, build: "never", maxThreads: threads });
  try {
    const model = await llama.loadModel({ modelPath });
    const context = await model.createContext({ contextSize: 2048, threads: { ideal: threads, min: threads } });
    const sequence = context.getSequence();
    const timings: GenerationTiming[] = [];
    for (const prompt of prompts) {
      const promptTokens = [model.tokens.bos as Token, ...model.tokenize(prompt, false)];
      await sequence.clearHistory();
      const startedAt = performance.now();
      const times: number[] = [];
      for await (const _token of sequence.evaluate(promptTokens, { temperature: 0 })) {
        times.push(performance.now());
        if (times.length >= tokens) break;
      }
      timings.push(timingFrom(startedAt, times));
    }
    return timings;
  } finally {
    await llama.dispose();
  }
}
