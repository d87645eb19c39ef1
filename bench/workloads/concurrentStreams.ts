/**
 * Workload (c): 1, 2 and 4 concurrent streams (4 NPCs talking at once), llama-server with 4 slots
 * against tinyllamad with 4 sequences, both cold, in turns; aggregate generated tokens (from usage)
 * per second of wall time. Also each process's memory idle and at its peak under 4 streams.
 */

import { type ProcessMemory, peakMemoryDuring } from "../../harness/processMemory.js";
import { DaemonLeg } from "../legs/daemonLeg.js";
import { LlamaServer } from "../legs/llamaServerLeg.js";
import { ratioSpread, summarize } from "../measurements.js";
import { uniquePrompt } from "../uniquePrompt.js";
import { type BenchContext, inTurns } from "./benchContext.js";

async function serverAggregate(server: LlamaServer, prompts: string[], tokens: number): Promise<number> {
  const startedAt = performance.now();
  const results = await Promise.all(prompts.map((prompt) => server.complete(prompt, tokens)));
  return (results.reduce((sum, result) => sum + result.tokens, 0) * 1000) / (performance.now() - startedAt);
}

export async function concurrentStreams(ctx: BenchContext) {
  const { modelPath, threads, tokens } = ctx;
  const server = new LlamaServer(ctx.tools.llamaServer, { modelPath, threads, slots: 4, contextSize: 2048 });
  const daemon = new DaemonLeg({ modelPath, threads, parallelSequences: 4, prefixReuse: false });
  await server.start();
  await daemon.start();
  try {
    const idle = { tinyllamad: daemon.memory(), llamaServer: server.memory() };
    const peak: Record<string, ProcessMemory> = {};
    const prompts = (streams: number) => Array.from({ length: streams }, () => uniquePrompt(ctx.nextPromptIndex(), 12));
    const byStreams: Record<string, unknown> = {};
    for (const streams of [1, 2, 4]) {
      const aggregate = await inTurns(
        [
          [
            "llama-server",
            async () => {
              const { result, peak: p } = await peakMemoryDuring(
                server.pid,
                serverAggregate(server, prompts(streams), tokens),
              );
              if (streams === 4 && (peak["llama-server"]?.rssMiB ?? 0) < p.rssMiB) peak["llama-server"] = p;
              return result;
            },
          ],
          [
            "tinyllamad",
            async () => {
              const { result, peak: p } = await peakMemoryDuring(
                daemon.pid,
                daemon.concurrent(prompts(streams), tokens),
              );
              if (streams === 4 && (peak.tinyllamad?.rssMiB ?? 0) < p.rssMiB) peak.tinyllamad = p;
              return result;
            },
          ],
        ],
        (ctx.quick ? 1 : Math.max(3, Math.ceil(ctx.reps / 2))) + 1,
      );
      const s = aggregate.get("llama-server")!.slice(1);
      const d = aggregate.get("tinyllamad")!.slice(1);
      byStreams[String(streams)] = {
        llamaServer: summarize(s),
        tinyllamad: summarize(d),
        ratio: ratioSpread(
          d.map((value, i) => value / s[i]!),
          streams === 4 ? 1.0 : undefined,
        ),
      };
    }
    return { aggregateTokensPerSecond: byStreams, memory: { idle, under4Streams: peak } };
  } finally {
    await daemon.stop();
    await server.stop();
  }
}
