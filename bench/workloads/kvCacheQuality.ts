/**
 * q8_0 against f16 KV cache (flash attention on for both, as llama.cpp needs for a quantized V):
 * greedy-output divergence — the share of answers identical to f16's and the first differing token
 * position — and decode speed, the two daemons in turns on the same prompts.
 */
import { DaemonLeg, type UsageTiming } from "../legs/daemonLeg.js";
import { ratioSpread, summarize } from "../measurements.js";
import { uniquePrompt } from "../uniquePrompt.js";
import { type BenchContext, inTurns } from "./benchContext.js";

export async function kvCacheQuality(ctx: BenchContext) {
  const { modelPath, threads, tokens } = ctx;
  const leg = (type: string) =>
    new DaemonLeg({
      modelPath,
      threads,
      parallelSequences: 1,
      prefixReuse: false,
      extraArgs: ["--backend.kvCacheType", type, "--backend.flashAttention", "on"],
    });
  const f16 = leg("f16");
  const q8 = leg("q8_0");
  await f16.start();
  await q8.start();
  try {
    const rounds = ctx.reps * 2 + 1;
    const prompts = Array.from({ length: rounds }, () => uniquePrompt(ctx.nextPromptIndex(), 24));
    const runs = await inTurns<UsageTiming>(
      [
        ["f16", (round) => f16.viaWebSocket(prompts[round]!, tokens)],
        ["q8_0", (round) => q8.viaWebSocket(prompts[round]!, tokens)],
      ],
      rounds,
    );
    const a = runs.get("f16")!.slice(1);
    const b = runs.get("q8_0")!.slice(1);
    const firstDifference = a.map((x, i) => {
      const y = b[i]!.text;
      let at = 0;
      while (at < x.text.length && at < y.length && x.text[at] === y[at]) at++;
      return at === x.text.length && at === y.length ? null : at;
    });
    const differing = firstDifference.filter((d): d is number => d !== null);
    return {
      answers: a.length,
      identical: firstDifference.filter((d) => d === null).length,
      firstDifferingCharacter: differing.length > 0 ? summarize(differing) : null,
      meanAnswerCharacters: a.reduce((s, x) => s + x.text.length, 0) / Math.max(1, a.length),
      decode: {
        f16: summarize(a.map((x) => x.decodeTokensPerSecond)),
        q8_0: summarize(b.map((x) => x.decodeTokensPerSecond)),
        ratio: ratioSpread(b.map((x, i) => x.decodeTokensPerSecond / a[i]!.decodeTokensPerSecond)),
      },
    };
  } finally {
    await f16.stop();
    await q8.stop();
  }
}
