/**
 * Workload (d): answers constrained by a JSON schema (the grammar's cost per token): tinyllamad's
 * json_schema against llama-server's json_schema, one slot each, cold, in turns. Answers end where
 * the grammar lets them, so rates count each side's own generated tokens (usage / predicted_n).
 */
import { DaemonLeg } from "../legs/daemonLeg.js";
import { LlamaServer } from "../legs/llamaServerLeg.js";
import { ratioSpread, summarize } from "../measurements.js";
import { uniquePrompt } from "../uniquePrompt.js";
import { type BenchContext, inTurns } from "./benchContext.js";

const schema = {
  type: "object",
  properties: {
    name: { type: "string" },
    mood: { type: "string", enum: ["friendly", "grumpy", "curious"] },
    reply: { type: "string" },
  },
  required: ["name", "mood", "reply"],
};

export async function jsonSchemaAnswers(ctx: BenchContext) {
  const { modelPath, threads, tokens } = ctx;
  const server = new LlamaServer(ctx.tools.llamaServer, { modelPath, threads, slots: 1, contextSize: 2048 });
  const daemon = new DaemonLeg({ modelPath, threads, parallelSequences: 1, prefixReuse: false });
  await server.start();
  await daemon.start();
  try {
    const prompt = () => `${uniquePrompt(ctx.nextPromptIndex(), 12)}. Answer as JSON:`;
    const runs = await inTurns(
      [
        ["llama-server", () => server.complete(prompt(), tokens, { json_schema: schema })],
        ["tinyllamad", () => daemon.viaWebSocket(prompt(), tokens, { json_schema: schema })],
      ],
      ctx.reps + 1,
    );
    const s = runs.get("llama-server")!.slice(1);
    const d = runs.get("tinyllamad")!.slice(1);
    const side = (r: typeof s) => ({
      decodeTokensPerSecond: summarize(r.map((x) => x.decodeTokensPerSecond)),
      ttftMs: summarize(r.map((x) => x.ttftMs)),
      tokens: summarize(r.map((x) => x.tokens)),
      example: r[0]?.text.slice(0, 200),
    });
    return {
      llamaServer: side(s),
      tinyllamad: side(d),
      decodeRatio: ratioSpread(
        d.map((r, i) => r.decodeTokensPerSecond / s[i]!.decodeTokensPerSecond),
        0.97,
      ),
    };
  } finally {
    await daemon.stop();
    await server.stop();
  }
}
