/**
 * Memory as a result: tinyllamad and llama-server with the model read in (no mmap) and mapped (mmap),
 * anonymous / file-backed / PSS from smaps_rollup, idle and at the peak of 4 streams; then the edge
 * profiles — the plans the HAL makes for a 1 GB and a 2 GB Raspberry Pi 4 — run here with the same
 * model and settings, their measured footprint against the daemon's own estimate.
 */
import { statSync } from "node:fs";
import { planMemoryProfile } from "../../hal/plan/planMemoryProfile.js";
import { peakMemoryDuring } from "../../harness/processMemory.js";
import { DaemonLeg } from "../legs/daemonLeg.js";
import { LlamaServer } from "../legs/llamaServerLeg.js";
import { uniquePrompt } from "../uniquePrompt.js";
import type { BenchContext } from "./benchContext.js";

/** MemTotal / MemAvailable of the test fixtures rpi4-1gb and a 2 GB Pi 4 (Raspberry Pi OS Lite). */
export const edgeBoards = {
  "Raspberry Pi 4, 1 GB": { totalBytes: 948_236 * 1024, availableBytes: 781_904 * 1024 },
  "Raspberry Pi 4, 2 GB": { totalBytes: 1_893_316 * 1024, availableBytes: 1_640_000 * 1024 },
};

const mib = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;

/** The plan the HAL makes for `memory` with a model file of `modelFileBytes`, from the daemon's defaults (4 × 2048, KV type and batch its to choose). Its `estimate` is the plan's own. */
export function planForEdgeBoard(memory: { totalBytes: number; availableBytes: number }, modelFileBytes: number) {
  return planMemoryProfile({
    contextSize: 2048,
    parallelSequences: 4,
    kvCacheType: "auto",
    batchSize: 0,
    modelFileBytes,
    ...memory,
  });
}

export async function memoryFootprint(ctx: BenchContext, edgeModels: Record<string, string>) {
  const { modelPath, threads } = ctx;
  const streams = (n: number) => Array.from({ length: n }, () => uniquePrompt(ctx.nextPromptIndex(), 12));
  const loading: Record<string, unknown> = {};
  for (const mmap of [false, true]) {
    const daemon = new DaemonLeg({
      modelPath,
      threads,
      parallelSequences: 4,
      prefixReuse: false,
      extraArgs: ["--backend.useMmap", String(mmap)],
    });
    await daemon.start();
    await daemon.viaWebSocket(uniquePrompt(ctx.nextPromptIndex(), 12), 8);
    const idle = daemon.memory();
    const { peak } = await peakMemoryDuring(daemon.pid, daemon.concurrent(streams(4), 32));
    await daemon.stop();
    const server = new LlamaServer(ctx.tools.llamaServer, {
      modelPath,
      threads,
      slots: 4,
      contextSize: 2048,
      extraArgs: ["--load-mode", mmap ? "mmap" : "none"],
    });
    await server.start();
    await server.complete(uniquePrompt(ctx.nextPromptIndex(), 12), 8);
    const serverIdle = server.memory();
    const serverPeak = (await peakMemoryDuring(server.pid, Promise.all(streams(4).map((p) => server.complete(p, 32)))))
      .peak;
    await server.stop();
    loading[mmap ? "mmap" : "no mmap"] = {
      tinyllamad: { idle, under4Streams: peak },
      llamaServer: { idle: serverIdle, under4Streams: serverPeak },
    };
  }

  const edge: Record<string, unknown> = {};
  for (const [board, memory] of Object.entries(edgeBoards))
    for (const [label, path] of Object.entries(edgeModels)) {
      const plan = planForEdgeBoard(memory, statSync(path).size);
      const key = `${board}, ${label}`;
      if (!plan.fits) {
        edge[key] = { plan: { ...plan, estimate: undefined }, fits: false };
        continue;
      }
      const daemon = new DaemonLeg({
        modelPath: path,
        threads,
        parallelSequences: plan.parallelSequences,
        extraArgs: [
          "--model.contextSize",
          String(plan.contextSize),
          "--backend.kvCacheType",
          plan.kvCacheType,
          "--backend.batchSize",
          String(plan.batchSize),
        ],
      });
      try {
        await daemon.start();
      } catch (error) {
        edge[key] = { plan, error: (error as Error).message.slice(0, 400) };
        continue;
      }
      await daemon.viaWebSocket(uniquePrompt(ctx.nextPromptIndex(), 12), 8);
      const idle = daemon.memory();
      // A prompt long enough to fill one batch, on every sequence at once: the compute buffers and
      // the KV cache are touched as in real use.
      const long = Array.from({ length: plan.parallelSequences }, () => uniquePrompt(ctx.nextPromptIndex(), 180));
      const { peak } = await peakMemoryDuring(daemon.pid, Promise.all(long.map((p) => daemon.viaWebSocket(p, 32))));
      await daemon.stop();
      const { estimate } = plan;
      edge[key] = {
        plan: {
          parallelSequences: plan.parallelSequences,
          contextSize: plan.contextSize,
          kvCacheType: plan.kvCacheType,
          batchSize: plan.batchSize,
          reasons: plan.reasons,
        },
        estimateMiB: {
          total: mib(estimate.totalBytes),
          model: mib(estimate.modelBytes),
          kv: mib(estimate.kvCacheBytes),
          compute: mib(estimate.computeBufferBytes),
          runtime: mib(estimate.runtimeBytes),
        },
        measured: { idle, peak },
        estimateOverMeasuredPeak: Math.round((estimate.totalBytes / 1048576 / peak.rssMiB) * 1000) / 1000,
        leftForTheOsMiB: mib(memory.totalBytes) - peak.rssMiB,
      };
    }
  return { loading, edge };
}
