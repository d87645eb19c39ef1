/**
 * `npm run bench`: tinyllamad against llama.cpp itself (llama-bench, llama-server built from the
 * source bundle node-llama-cpp ships) and against node-llama-cpp in-process, on the same model and
 * threads, in one run. Writes bench/results/<date>-<machine>.json and .svg and prints ratios.
 *
 *   npm run bench -- [--quick] [--model FILE] [--threads N] [--reps N] [--tokens N] [--workload all|npc]
 *
 * `--workload npc` runs only the NPC dialogue workload (legs/npcWorkload.ts) and writes
 * bench/results/<date>-<machine>-npc[-quick].json; `all` (the default) adds it to the full report.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, statSync } from "node:fs";
import { cpus, hostname, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { makeTestModel } from "../devtools/testModel/makeTestModel.js";
import { MosquittoBroker } from "../harness/MosquittoBroker.js";
import { projectCacheDirectory, projectRoot } from "../models/projectCacheDirectory.js";
import { type DecodeRow, renderSvgChart, writeReport } from "./benchReport.js";
import { DaemonLeg } from "./legs/daemonLeg.js";
import { InProcessLeg } from "./legs/inProcessLeg.js";
import { runLlamaBench } from "./legs/llamaBenchLeg.js";
import { LlamaServer } from "./legs/llamaServerLeg.js";
import { runNpcWorkload } from "./legs/npcWorkload.js";
import { type GenerationTiming, summarize } from "./measurements.js";
import { llamaCppTools } from "./tools/llamaCppTools.js";

const log = (line: string) => console.log(`[bench] ${line}`);

function benchModel(quantize: string, shape: string): string {
  const directory = join(projectCacheDirectory(), "bench-models");
  mkdirSync(directory, { recursive: true });
  const target = join(directory, `${shape}-Q4_K_M.gguf`);
  if (existsSync(target)) return target;
  const f16 = join(directory, `${shape}-f16.gguf`);
  log(`making the ${shape} model (f16) and quantizing it to Q4_K_M …`);
  makeTestModel({ shape, quant: "f16", seed: 1, out: f16 });
  execFileSync(quantize, [f16, `${target}.partial`, "Q4_K_M"], { stdio: ["ignore", "ignore", "inherit"] });
  execFileSync("mv", [`${target}.partial`, target]);
  rmSync(f16, { force: true });
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

const promptFor = (i: number) => `Story ${i}. The little robot walked into the workshop and looked around. It saw`;
const paddedPrompt = (words: number, i: number) =>
  `${i} ${"lorem ipsum dolor sit amet ".repeat(Math.ceil(words / 5))}`.split(" ").slice(0, words).join(" ");

/**
 * Runs every leg once per round, in turns: round r starts with leg r (mod legs), so no leg always
 * runs first or right after another. Each run gets the round and its leg's index (to make prompts
 * that no other leg has seen: legs may share a process, whose prefix cache must not help them).
 * Returns each leg's results in round order.
 */
async function inTurns<T>(
  legs: Array<[string, (round: number, leg: number) => Promise<T>]>,
  rounds: number,
): Promise<Map<string, T[]>> {
  const results = new Map<string, T[]>(legs.map(([name]) => [name, []]));
  for (let round = 0; round < rounds; round++)
    for (let turn = 0; turn < legs.length; turn++) {
      const leg = (round + turn) % legs.length;
      const [name, run] = legs[leg]!;
      results.get(name)?.push(await run(round, leg));
    }
  return results;
}

/** Aggregate tokens/s of concurrent streams on llama-server. */
async function serverAggregate(server: LlamaServer, prompts: string[], tokens: number): Promise<number> {
  const startedAt = performance.now();
  const results = await Promise.all(prompts.map((prompt) => server.complete(prompt, tokens)));
  return (results.reduce((sum, result) => sum + result.tokens, 0) * 1000) / (performance.now() - startedAt);
}

function row(name: string, runs: GenerationTiming[]): DecodeRow {
  const decode = summarize(runs.map((r) => r.decodeTokensPerSecond));
  return {
    name,
    decodeTokensPerSecond: decode.median,
    decodeMin: decode.min,
    decodeMax: decode.max,
    ttftMs: summarize(runs.map((r) => r.ttftMs)).median,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      model: { type: "string" },
      threads: { type: "string" },
      reps: { type: "string" },
      tokens: { type: "string" },
      workload: { type: "string", default: "all" },
    },
  });
  const quick = values.quick ?? false;
  const threads = Number(values.threads ?? Math.min(4, cpus().length));
  const reps = Number(values.reps ?? (quick ? 2 : 5));
  const tokens = Number(values.tokens ?? (quick ? 24 : 64));
  const started = Date.now();
  const tools = llamaCppTools(log);
  const modelPath = values.model ?? benchModel(tools.llamaQuantize, quick ? "tiny" : "tinyllama-1.1b");
  const modelBytes = statSync(modelPath).size;
  log(`model ${modelPath} (${(modelBytes / 1e6).toFixed(0)} MB), ${threads} threads, ${reps} reps, ${tokens} tokens`);
  const npc = () => runNpcWorkload({ llamaServer: tools.llamaServer, modelPath, threads, quick, log });
  if (values.workload === "npc") {
    const report = { date: new Date().toISOString(), machine: hostname(), cpus: cpus().length, llamaCpp: tools.commit };
    const result = { ...report, model: { path: modelPath, bytes: modelBytes }, threads, quick, npc: await npc() };
    const file = join(
      projectRoot(),
      "bench",
      "results",
      `${result.date.slice(0, 10)}-${hostname()}-npc${quick ? "-quick" : ""}.json`,
    );
    writeReport(file, { ...result, seconds: (Date.now() - started) / 1000 });
    log(`report: ${file}`);
    return;
  }
  const measured = (runs: GenerationTiming[]) => runs.slice(1); // the first run warms up

  log("llama-bench …");
  const llamaBench = runLlamaBench(tools.llamaBench, modelPath, threads, tokens, reps);

  // The legs of each comparison run in turns, one generation each, rotating who goes first, so a
  // slow spell of the machine (a shared VM drifts by ±10 % over minutes) falls on all of them alike.
  log(
    "single stream, in turns: llama-server (1 slot), node-llama-cpp in-process, tinyllamad over WebSocket and over MQTT …",
  );
  const server = new LlamaServer(tools.llamaServer, { modelPath, threads, slots: 1, contextSize: 2048 });
  await server.start();
  const broker = new MosquittoBroker();
  await broker.start();
  const single = new DaemonLeg({ modelPath, threads, parallelSequences: 1, mqttUrl: broker.url });
  await single.start();
  const inProcess = await InProcessLeg.start(modelPath, threads);
  // Prompts of the same length for every leg and round ("Story 1RL."), none seen twice.
  const singleStreamPrompt = (round: number, leg: number) => promptFor(100 + 4 * round + leg);
  const singleStreamLegs: Array<[string, (round: number, leg: number) => Promise<GenerationTiming>]> = [
    ["server", (round, leg) => server.complete(singleStreamPrompt(round, leg), tokens)],
    ["inProcess", (round, leg) => inProcess.decode(singleStreamPrompt(round, leg), tokens)],
    ["ws", (round, leg) => single.viaWebSocket(singleStreamPrompt(round, leg), tokens)],
    ["mqtt", (round, leg) => single.viaMqtt(singleStreamPrompt(round, leg), tokens)],
  ];
  const singleRuns = await inTurns(singleStreamLegs, reps + 1);
  await inProcess.stop();

  const serverPrefill: Record<string, number> = {};
  const daemonPrefill: Record<string, number> = {};
  for (const words of [128, 512]) {
    const served = await server.complete(paddedPrompt(words, 1), 1);
    serverPrefill[`pp${words}`] = (served.promptTokens * 1000) / served.promptMs;
    const daemon = await single.viaWebSocket(paddedPrompt(words, 2), 1);
    daemonPrefill[`pp${words}`] = (daemon.promptTokens * 1000) / daemon.ttftMs;
  }
  await server.stop();

  log("persona reuse, memory and idle CPU of tinyllamad …");
  const persona = `You are Mira, the innkeeper. ${paddedPrompt(380, 7)}`;
  const withoutReuse: number[] = [];
  const withReuse: number[] = [];
  for (let i = 0; i < reps; i++) withoutReuse.push((await single.viaWebSocket(`${i}${persona} Q${i}?`, 1)).ttftMs);
  await single.viaWebSocket(`${persona} Q?`, 1, "mira");
  for (let i = 0; i < reps; i++) withReuse.push((await single.viaWebSocket(`${persona} Q${i}?`, 1, "mira")).ttftMs);
  const rssMb = single.anonymousRssMb();
  const idleCpu = await single.idleCpuPercent(quick ? 1000 : 3000);
  await single.stop();
  await broker.dispose();

  log("concurrent streams, in turns: llama-server (4 slots) and tinyllamad (4 sequences) …");
  const server4 = new LlamaServer(tools.llamaServer, { modelPath, threads, slots: 4, contextSize: 2048 });
  await server4.start();
  const four = new DaemonLeg({ modelPath, threads, parallelSequences: 4 });
  await four.start();
  const serverConcurrency: Record<string, number> = {};
  const daemonConcurrency: Record<string, number> = {};
  const rounds = quick ? 1 : 3;
  for (const streams of [1, 2, 4]) {
    const streamPrompts = (round: number, leg: number) =>
      Array.from({ length: streams }, (_, i) => promptFor(500 + 100 * streams + 10 * (2 * round + leg) + i));
    const aggregate = await inTurns(
      [
        ["server", (round, leg) => serverAggregate(server4, streamPrompts(round, leg), tokens)],
        ["daemon", (round, leg) => four.concurrent(streamPrompts(round, leg), tokens)],
      ],
      rounds,
    );
    serverConcurrency[String(streams)] = summarize(aggregate.get("server") ?? []).median;
    daemonConcurrency[String(streams)] = summarize(aggregate.get("daemon") ?? []).median;
  }
  await four.stop();
  await server4.stop();
  const serverRuns = singleRuns.get("server") ?? [];
  const inProcessRuns = singleRuns.get("inProcess") ?? [];
  const wsRuns = singleRuns.get("ws") ?? [];
  const mqttRuns = singleRuns.get("mqtt") ?? [];

  const bandwidth = memoryBandwidthGbPerSecond(threads);
  const bound = (bandwidth * 1e9) / modelBytes;
  const rows: DecodeRow[] = [
    {
      name: "llama-bench",
      decodeTokensPerSecond: llamaBench.find((r) => r.test.startsWith("tg"))?.tokensPerSecond ?? Number.NaN,
      decodeMin: Number.NaN,
      decodeMax: Number.NaN,
      ttftMs: Number.NaN,
    },
    row("llama-server (HTTP stream)", measured(serverRuns)),
    row("node-llama-cpp in-process", measured(inProcessRuns)),
    row("tinyllamad over WebSocket", measured(wsRuns)),
    row("tinyllamad over MQTT", measured(mqttRuns)),
  ];
  for (const r of rows)
    if (Number.isNaN(r.decodeMin))
      Object.assign(r, { decodeMin: r.decodeTokensPerSecond, decodeMax: r.decodeTokensPerSecond });
  const reference = rows[1]!;
  const ratios = Object.fromEntries(
    rows.map((r) => [
      r.name,
      {
        decode: r.decodeTokensPerSecond / reference.decodeTokensPerSecond,
        ttftOverheadMs: r.ttftMs - reference.ttftMs,
      },
    ]),
  );
  const report = {
    date: new Date().toISOString(),
    machine: { hostname: hostname(), cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGb: totalmem() / 2 ** 30 },
    quick,
    llamaCpp: tools.commit,
    model: { path: modelPath, bytes: modelBytes },
    threads,
    reps,
    tokens,
    decode: rows,
    ratiosToLlamaServer: ratios,
    llamaBench,
    prefillTokensPerSecond: { llamaServer: serverPrefill, tinyllamad: daemonPrefill },
    personaTtftMs: {
      withoutReuse: summarize(withoutReuse).median,
      withSessionReuse: summarize(withReuse).median,
      speedup: summarize(withoutReuse).median / summarize(withReuse).median,
    },
    concurrencyAggregateTokensPerSecond: {
      llamaServer4Slots: serverConcurrency,
      tinyllamad4Sequences: daemonConcurrency,
    },
    daemon: { anonymousRssMb: rssMb, idleCpuPercent: idleCpu },
    memoryBandwidth: {
      gbPerSecond: bandwidth,
      decodeBoundTokensPerSecond: bound,
      fractionOfBound: Object.fromEntries(rows.map((r) => [r.name, r.decodeTokensPerSecond / bound])),
    },
    npc: await npc(),
    seconds: (Date.now() - started) / 1000,
  };
  const resultsDir = join(projectRoot(), "bench", "results");
  mkdirSync(resultsDir, { recursive: true });
  const base = join(resultsDir, `${report.date.slice(0, 10)}-${hostname()}${quick ? "-quick" : ""}`);
  writeReport(`${base}.json`, report);
  (await import("node:fs")).writeFileSync(
    `${base}.svg`,
    renderSvgChart(rows, bound, `decode tokens/s, ${threads} threads, ${modelPath.split("/").pop()}`),
  );

  console.log("\n| | decode tok/s (min–max) | ×llama-server | TTFT ms | TTFT overhead ms | of bandwidth bound |");
  console.log("|---|---|---|---|---|---|");
  for (const r of rows)
    console.log(
      `| ${r.name} | ${r.decodeTokensPerSecond.toFixed(2)} (${r.decodeMin.toFixed(2)}–${r.decodeMax.toFixed(2)}) | ${ratios[r.name]!.decode.toFixed(3)} | ${r.ttftMs.toFixed(1)} | ${ratios[r.name]!.ttftOverheadMs.toFixed(1)} | ${((r.decodeTokensPerSecond / bound) * 100).toFixed(0)} % |`,
    );
  console.log(
    `\nprefill tok/s: llama-server ${JSON.stringify(serverPrefill)}, tinyllamad ${JSON.stringify(daemonPrefill)}; llama-bench ${JSON.stringify(llamaBench)}`,
  );
  console.log(
    `persona TTFT: ${report.personaTtftMs.withoutReuse.toFixed(1)} ms without reuse, ${report.personaTtftMs.withSessionReuse.toFixed(1)} ms with session reuse (${report.personaTtftMs.speedup.toFixed(1)}×)`,
  );
  console.log(
    `aggregate tok/s by streams: llama-server ${JSON.stringify(serverConcurrency)}, tinyllamad ${JSON.stringify(daemonConcurrency)}`,
  );
  console.log(
    `daemon: ${rssMb.toFixed(0)} MB anonymous RSS, ${idleCpu.toFixed(2)} % CPU idle; bandwidth ${bandwidth.toFixed(1)} GB/s → bound ${bound.toFixed(1)} tok/s`,
  );
  console.log(`report: ${base}.json, chart: ${base}.svg (${report.seconds.toFixed(0)} s)`);
}

await main();
