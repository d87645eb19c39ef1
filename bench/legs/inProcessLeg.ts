/** node-llama-cpp called in-process, the way an application embedding it would. */
import { getLlama, type Llama, type LlamaContextSequence, type LlamaModel, type Token } from "node-llama-cpp";
import { type GenerationTiming, timingFrom } from "../measurements.js";

export class InProcessLeg {
  private constructor(
    private readonly llama: Llama,
    private readonly model: LlamaModel,
    private readonly sequence: LlamaContextSequence,
  ) {}

  static async start(modelPath: string, threads: number): Promise<InProcessLeg> {
    const llama = await getLlama({ gpu: false, build: "never", maxThreads: threads });
    try {
      const model = await llama.loadModel({ modelPath });
      const context = await model.createContext({ contextSize: 2048, threads: { ideal: threads, min: threads } });
      return new InProcessLeg(llama, model, context.getSequence());
    } catch (error) {
      await llama.dispose();
      throw error;
    }
  }

  /** One greedy generation of `tokens` tokens from a fresh sequence; times measured from the call. */
  async decode(prompt: string, tokens: number): Promise<GenerationTiming> {
    const promptTokens = [this.model.tokens.bos as Token, ...this.model.tokenize(prompt, false)];
    await this.sequence.clearHistory();
    const startedAt = performance.now();
    const times: number[] = [];
    for await (const _token of this.sequence.evaluate(promptTokens, { temperature: 0 })) {
      times.push(performance.now());
      if (times.length >= tokens) break;
    }
    return timingFrom(startedAt, times);
  }

  stop(): Promise<void> {
    return this.llama.dispose();
  }
}
