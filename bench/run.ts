/**
 * `npm run bench`: tinyllamad against llama.cpp itself (llama-bench, llama-server built from the
 * source bundle node-llama-cpp ships) and against node-llama-cpp in-process, on the same model and
 * threads, with the same caching on both sides (bench/README.md, "Method"). Writes
 * bench/results/<date>-<machine>.json and .svg and prints the verdicts.
 *
 *   npm run bench -- [--quick] [--model FILE] [--threads N] [--reps N] [--tokens N] [--only a,b]
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, hostname, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { makeTestModel } from "../devtools/testModel/makeTestModel.js";
import { MosquittoBroker } from "../harness/MosquittoBroker.js";
import { projectCacheDirectory, projectRoot } from "../models/projectCacheDirectory.js";
import { type DecodeRow, renderSvgChart, writeReport } from "./benchReport.js";
import { runLlamaBench } from "./legs/llamaBenchLeg.js";
import { runNpcWorkload } from "./legs/npcWorkload.js";
import { llamaCppTools } from "./tools/llamaCppTools.js";
import { arm64Footprint } from "./workloads/arm64Footprint.js";
import type { BenchContext } from "./workloads/benchContext.js";
import { concurrentStreams } from "./workloads/concurrentStreams.js";
import { decodeProfile } from "./workloads/decodeProfile.js";
import { jsonSchemaAnswers } from "./workloads/jsonSchemaAnswers.js";
import { kvCacheQuality } from "./workloads/kvCacheQuality.js";
import { memoryFootprint } from "./workloads/memoryFootprint.js";
import { singleStream } from "./workloads/singleStream.js";

const log = (line: string) => console.log(`[bench] ${line}`);

function benchModel(quantize: string, shape: string, quant = "Q4_K_M"): string {
  const directory = join(projectCacheDirectory(), "bench-models");
  mkdirSync(directory, { recursive: true });
  const target = join(directory, `${shape}-${quant}.gguf`);
  if (existsSync(target)) return target;
  const f16 = join(directory, `${shape}-f16.gguf`);
  log(`making the ${shape} model (f16) and quantizing it to ${quant} …`);
  if (!existsSync(f16)) makeTestModel({ shape, quant: "f16", seed: 1, out: f16 });
  execFileSync(quantize, [f16, `${target}.partial`, quant], { stdio: ["ignore", "ignore", "inherit"] });
  execFileSync("mv", [`${target}.partial`, target]);
  return target;
}

function memoryBandwidthGbPerSecond(threads: number): number {
  const binary = join(projectRoot(), "bench", ".build", "stream_read");
  if (!existsSync(binary))
    execFileSync("cc", [
      "-O3",
      "-march=native",
      "-pthread",
      join(projectRoot(), "bench", "tools", "stream_read.c"),
      "-o",
      binary,
    ]);
  const output = execFileSync(binary, [String(threads), "512"], { encoding: "utf8" });
  return (JSON.parse(output) as { gb_per_s: number }).gb_per_s;
}

function mosquittoInstalled(): boolean {
  try {
    execFileSync("sh", ["-c", "command -v mosquitto"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      model: { type: "string" },
      threads: { type: "string" },
      reps: { type: "string" },
      tokens: { type: "string" },
      only: { type: "string" },
    },
  });
  const quick = values.quick ?? false;
  const threads = Number(values.threads ?? Math.min(4, cpus().length));
  const reps = Number(values.reps ?? (quick ? 2 : 7));
  const tokens = Number(values.tokens ?? (quick ? 24 : 128));
  const started = Date.now();
  const tools = llamaCppTools(log);
  const shape = quick ? "tiny" : "tinyllama-1.1b";
  const modelPath = values.model ?? benchModel(tools.llamaQuantize, shape);
  const modelBytes = statSync(modelPath).size;
  log(`model ${modelPath} (${(modelBytes / 1e6).toFixed(0)} MB), ${threads} threads, ${reps} reps, ${tokens} tokens`);
  let broker = mosquittoInstalled() ? new MosquittoBroker() : undefined;
  try {
    await broker?.start();
  } catch (error) {
    log(`mosquitto did not start (${(error as Error).message.split("\n")[0]})`);
    broker = undefined;
  }
  if (!broker) log("no working mosquitto: the MQTT leg is left out");
  let promptIndex = 0;
  const ctx: BenchContext = {
    tools,
    modelPath,
    threads,
    reps,
    tokens,
    quick,
    mqttUrl: broker?.url,
    log,
    nextPromptIndex: () => promptIndex++,
  };
  // Each workload starts and stops its own processes (fresh state directories); the order is fixed.
  // npc: issue 19's NPC dialogue (a persona + growing turns, automatic reuse against cache_prompt:true; 8 personas over 4 sequences).
  const workloads: Record<string, () => Promise<unknown>> = {
    llamaBench: async () => runLlamaBench(tools.llamaBench, modelPath, threads, 64, reps),
    singleStream: () => singleStream(ctx),
    concurrentStreams: () => concurrentStreams(ctx),
    jsonSchema: () => jsonSchemaAnswers(ctx),
    npc: () => runNpcWorkload({ llamaServer: tools.llamaServer, modelPath, threads, quick, log }),
    kvCacheQuality: () => kvCacheQuality(ctx),
    memory: () =>
      memoryFootprint(ctx, {
        [`${shape} Q4_K_M`]: modelPath,
        ...(quick ? {} : { [`${shape} Q2_K`]: benchModel(tools.llamaQuantize, shape, "Q2_K") }),
      }),
    decodeProfile: () => decodeProfile({ ...ctx, reps: quick ? 2 : 4 }),
    // The 1 GB Pi 4's plan with its default model's quantization (Q3_K_M), under qemu-aarch64.
    arm64Footprint: () =>
      quick
        ? Promise.resolve({ skipped: "--quick: the arm64 bundle under qemu is measured by the full run" })
        : arm64Footprint(ctx, benchModel(tools.llamaQuantize, shape, "Q3_K_M"), `${shape} Q3_K_M`),
  };
  const only = values.only?.split(",");
  const resultsDir = process.env.TINYLLAMAD_BENCH_RESULTS ?? join(projectRoot(), "bench", "results");
  mkdirSync(resultsDir, { recursive: true });
  const results: Record<string, unknown> = {};
  for (const [name, run] of Object.entries(workloads)) {
    if (only && !only.includes(name)) continue;
    log(`${name} …`);
    const began = Date.now();
    try {
      results[name] = await run();
    } catch (error) {
      // One failing workload must not cost the others' results (a lent machine's time is short).
      results[name] = { error: (error as Error).stack ?? String(error) };
    }
    writeReport(join(resultsDir, "partial.json"), results);
    log(
      `${name} done in ${((Date.now() - began) / 1000).toFixed(0)} s: ${JSON.stringify(results[name]).slice(0, 600)}`,
    );
  }
  await broker?.dispose();
  rmSync(join(projectCacheDirectory(), "bench-models", `${shape}-f16.gguf`), { force: true });

  const bandwidth = memoryBandwidthGbPerSecond(threads);
  const bound = (bandwidth * 1e9) / modelBytes;
  const report = {
    date: new Date().toISOString(),
    machine: { hostname: hostname(), cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGb: totalmem() / 2 ** 30 },
    quick,
    llamaCpp: tools.commit,
    model: { path: modelPath, bytes: modelBytes },
    threads,
    reps,
    tokens,
    memoryBandwidth: { gbPerSecond: bandwidth, decodeBoundTokensPerSecond: bound },
    ...results,
    seconds: (Date.now() - started) / 1000,
  };
  rmSync(join(resultsDir, "partial.json"), { force: true });
  // A partial run (--only) never overwrites a full run's report of the same day.
  const base = join(
    resultsDir,
    `${report.date.slice(0, 10)}-${hostname()}${quick ? "-quick" : ""}${only ? `-only-${only.join("-")}` : ""}`,
  );
  writeReport(`${base}.json`, report);
  const single = results.singleStream as
    | { rows: Array<{ name: string; decodeTokensPerSecond: { median: number; min: number; max: number } }> }
    | undefined;
  if (single) {
    const llamaBenchTg = (results.llamaBench as Array<{ test: string; tokensPerSecond: number }> | undefined)?.find(
      (r) => r.test.startsWith("tg"),
    )?.tokensPerSecond;
    const rows: DecodeRow[] = [
      ...(llamaBenchTg
        ? [
            {
              name: "llama-bench",
              decodeTokensPerSecond: llamaBenchTg,
              decodeMin: llamaBenchTg,
              decodeMax: llamaBenchTg,
              ttftMs: Number.NaN,
            },
          ]
        : []),
      ...single.rows.map((r) => ({
        name: r.name,
        decodeTokensPerSecond: r.decodeTokensPerSecond.median,
        decodeMin: r.decodeTokensPerSecond.min,
        decodeMax: r.decodeTokensPerSecond.max,
        ttftMs: Number.NaN,
      })),
    ];
    writeFileSync(
      `${base}.svg`,
      renderSvgChart(rows, bound, `decode tokens/s, ${threads} threads, cold legs, ${modelPath.split("/").pop()}`),
    );
  }
  console.log(JSON.stringify(report, null, 1).slice(0, 20000));
  console.log(`report: ${base}.json (${report.seconds.toFixed(0)} s)`);
}

await main();
// A workload whose leg failed to start may have left a daemon or server behind, which would keep
// this process (and CI) waiting forever: the report is written, so leave (their exit hooks kill them).
setTimeout(() => process.exit(0), 2000).unref();
