/**
 * The short benchmark: decode tokens/s and TTFT end to end through tinyllamad (the daemon as its
 * own process) over WebSocket and over MQTT (a real Mosquitto), against node-llama-cpp called
 * in-process, on the same model, threads and prompts; one after another so they never share the
 * CPU. (`npm run bench` adds llama.cpp's own tools and everything else.)
 *
 *   npm run build && node dist/bench/decodeEndToEnd.js [--model FILE] [--threads N] [--tokens N] [--reps N]
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { MosquittoBroker } from "../harness/MosquittoBroker.js";
import { projectCacheDirectory } from "../models/projectCacheDirectory.js";
import { makeTestModel } from "../models/testModel/makeTestModel.js";
import { DaemonLeg } from "./legs/daemonLeg.js";
import { inProcessDecode } from "./legs/inProcessLeg.js";
import { type GenerationTiming, summarize } from "./measurements.js";

/** A different prompt per repetition, so that no run reuses another's evaluated prefix. */
const promptFor = (rep: number) => `Story ${rep}. The little robot walked into the workshop and looked around. It saw`;

function benchModelPath(): string {
  const directory = join(projectCacheDirectory(), "bench-models");
  const path = join(directory, "tinyllama-1.1b-q4_0-seed1.gguf");
  if (!existsSync(path)) {
    mkdirSync(directory, { recursive: true });
    console.log(`making ${path} …`);
    makeTestModel({ shape: "tinyllama-1.1b", quant: "q4_0", seed: 1, out: path });
  }
  return path;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      model: { type: "string" },
      threads: { type: "string", default: "2" },
      tokens: { type: "string", default: "64" },
      reps: { type: "string", default: "3" },
    },
  });
  const modelPath = values.model ?? benchModelPath();
  const threads = Number(values.threads);
  const tokens = Number(values.tokens);
  const reps = Number(values.reps);
  console.log(`model ${modelPath}, ${threads} threads, ${tokens} tokens, ${reps} repetitions (+1 warm-up)`);
  const prompts = Array.from({ length: reps + 1 }, (_, rep) => promptFor(rep));
  const measured = (runs: GenerationTiming[]) => runs.slice(1);

  const local = measured(await inProcessDecode(modelPath, threads, prompts, tokens));

  const overWs = new DaemonLeg({ modelPath, threads, parallelSequences: 1 });
  await overWs.start();
  const webSocket: GenerationTiming[] = [];
  for (const prompt of prompts) webSocket.push(await overWs.viaWebSocket(prompt, tokens));
  await overWs.stop();

  const broker = new MosquittoBroker();
  await broker.start();
  const overMqtt = new DaemonLeg({ modelPath, threads, parallelSequences: 1, mqttUrl: broker.url });
  await overMqtt.start();
  const viaMqtt: GenerationTiming[] = [];
  for (const prompt of prompts) viaMqtt.push(await overMqtt.viaMqtt(prompt, tokens));
  await overMqtt.stop();
  await broker.dispose();

  const rows = [
    { name: "node-llama-cpp in-process", runs: local },
    { name: "tinyllamad over WebSocket", runs: measured(webSocket) },
    { name: "tinyllamad over MQTT", runs: measured(viaMqtt) },
  ].map(({ name, runs }) => ({
    name,
    decode: summarize(runs.map((r) => r.decodeTokensPerSecond)),
    ttft: summarize(runs.map((r) => r.ttftMs)),
  }));
  for (const { name, decode, ttft } of rows) {
    console.log(
      `${name.padEnd(28)} decode ${decode.median.toFixed(2)} tok/s (${decode.min.toFixed(2)}–${decode.max.toFixed(2)})` +
        `  TTFT ${ttft.median.toFixed(1)} ms (${ttft.min.toFixed(1)}–${ttft.max.toFixed(1)})`,
    );
  }
  const [base, ...others] = rows;
  for (const other of base ? others : []) {
    if (!base) break;
    console.log(
      `ratio ${other.name.replace("tinyllamad over ", "")} / in-process: decode ${(other.decode.median / base.decode.median).toFixed(3)}×, ` +
        `TTFT ${(other.ttft.median / base.ttft.median).toFixed(3)}×`,
    );
  }
}

await main();
