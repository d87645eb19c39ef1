/**
 * Workload (a): one stream, a short unique prompt, `tokens` tokens, both sides cold (llama-server
 * cache_prompt:false, the daemon's prefixReuse off), in turns with node-llama-cpp in-process; then
 * prefill at ≈128 and ≈512 prompt tokens, counted as (prompt − reused) / TTFT on both sides.
 */
import { DaemonLeg, type UsageTiming } from "../legs/daemonLeg.js";
import { InProcessLeg } from "../legs/inProcessLeg.js";
import { LlamaServer, type ServerTiming } from "../legs/llamaServerLeg.js";
import { type GenerationTiming, ratioSpread, summarize } from "../measurements.js";
import { uniquePrompt } from "../uniquePrompt.js";
import { type BenchContext, inTurns } from "./benchContext.js";

type Timed = GenerationTiming & { promptTokens?: number; reusedTokens?: number };

export async function singleStream(ctx: BenchContext) {
  const { modelPath, threads, tokens } = ctx;
  const server = new LlamaServer(ctx.tools.llamaServer, { modelPath, threads, slots: 1, contextSize: 2048 });
  const daemon = new DaemonLeg({ modelPath, threads, parallelSequences: 1, prefixReuse: false, mqttUrl: ctx.mqttUrl });
  await server.start();
  await daemon.start();
  const inProcess = await InProcessLeg.start(modelPath, threads);
  try {
    const prompt = () => uniquePrompt(ctx.nextPromptIndex(), 12);
    const legs: Array<[string, () => Promise<Timed>]> = [
      ["llama-server", () => server.complete(prompt(), tokens)],
      ["node-llama-cpp in-process", () => inProcess.decode(prompt(), tokens)],
      ["tinyllamad WebSocket", () => daemon.viaWebSocket(prompt(), tokens)],
      ...(ctx.mqttUrl
        ? [["tinyllamad MQTT", () => daemon.viaMqtt(prompt(), tokens)] as [string, () => Promise<Timed>]]
        : []),
    ];
    const runs = await inTurns(legs, ctx.reps + 1);
    // The first round warms up; a round counts only where every leg reached the token count.
    const rounds = Array.from({ length: ctx.reps }, (_, i) => i + 1).filter((round) =>
      [...runs.values()].every((r) => (r[round]?.tokens ?? 0) >= tokens),
    );
    const reference = runs.get("llama-server")!;
    const rows = [...runs.entries()].map(([name, results]) => {
      const kept = rounds.map((round) => results[round]!);
      return {
        name,
        decodeTokensPerSecond: summarize(kept.map((r) => r.decodeTokensPerSecond)),
        ttftMs: summarize(kept.map((r) => r.ttftMs)),
        reusedTokens: kept.reduce((sum, r) => sum + (r.reusedTokens ?? 0), 0),
        decodeRatio: ratioSpread(
          rounds.map((round) => results[round]!.decodeTokensPerSecond / reference[round]!.decodeTokensPerSecond),
          name.startsWith("tinyllamad") ? 0.97 : undefined,
        ),
        ttftOverheadMs: ratioSpread(
          rounds.map((round) => results[round]!.ttftMs - reference[round]!.ttftMs),
          name.startsWith("tinyllamad") ? 5 : undefined,
          false,
        ),
      };
    });
    const prefill: Record<string, unknown> = {};
    for (const words of [110, 440]) {
      const pp = await inTurns<ServerTiming | UsageTiming>(
        [
          ["llama-server", () => server.complete(uniquePrompt(ctx.nextPromptIndex(), words), 1)],
          ["tinyllamad", () => daemon.viaWebSocket(uniquePrompt(ctx.nextPromptIndex(), words), 1)],
        ],
        ctx.reps + 1,
      );
      const rate = (r: ServerTiming | UsageTiming) => ((r.promptTokens - r.reusedTokens) * 1000) / r.ttftMs;
      const s = pp.get("llama-server")!.slice(1) as ServerTiming[];
      const d = pp.get("tinyllamad")!.slice(1);
      prefill[`≈${Math.round(summarize(s.map((r) => r.promptTokens)).median)} tokens`] = {
        llamaServer: summarize(s.map(rate)),
        llamaServerOwnPromptMsRate: summarize(s.map((r) => (r.promptTokens * 1000) / r.promptMs)),
        tinyllamad: summarize(d.map(rate)),
        reusedTokens: {
          llamaServer: s.reduce((a, r) => a + r.reusedTokens, 0),
          tinyllamad: d.reduce((a, r) => a + r.reusedTokens, 0),
        },
        ratio: ratioSpread(d.map((r, i) => rate(r) / rate(s[i]!))),
      };
    }
    return {
      droppedRounds: ctx.reps - rounds.length,
      rows,
      prefill,
      idleMemory: { tinyllamad: daemon.memory(), llamaServer: server.memory() },
      idleCpuPercent: await daemon.idleCpuPercent(ctx.quick ? 1000 : 3000),
    };
  } finally {
    await inProcess.stop();
    await daemon.stop();
    await server.stop();
  }
}
