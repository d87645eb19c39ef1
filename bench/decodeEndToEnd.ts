/**
 * Decode tokens/s and TTFT end to end through tinyllamad (the daemon as its own process) over
 * WebSocket and over MQTT (a real Mosquitto), against node-llama-cpp called in-process, on the same
 * model, threads and prompts; one after another so they never share the CPU.
 *
 *   npm run build && node dist/bench/decodeEndToEnd.js [--model FILE] [--threads N] [--tokens N] [--reps N]
 *
 * Without --model it generates the TinyLlama-1.1B-shaped q4_0 model (random weights: speed depends
 * on shape and quantization, not on the values) once, into .cache/bench-models.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { getLlama, type Token } from "node-llama-cpp";
import { projectCacheDirectory } from "../models/projectCacheDirectory.js";
import { makeTestModel } from "../models/testModel/makeTestModel.js";
import { DaemonProcess } from "../test/support/DaemonProcess.js";
import { MosquittoBroker } from "../test/support/MosquittoBroker.js";
import { MqttProbeClient } from "../test/support/MqttProbeClient.js";
import { ProtocolClient } from "../test/support/ProtocolClient.js";
import { type GenerationTiming, summarize, timingFrom } from "./measurements.js";

/** A different prompt per repetition, so that no run reuses another's evaluated prefix. */
const promptFor = (rep: number) => `Story ${rep}. The little robot walked into the workshop and looked around. It saw`;

export function benchModelPath(): string {
  const directory = join(projectCacheDirectory(), "bench-models");
  const path = join(directory, "tinyllama-1.1b-q4_0-seed1.gguf");
  if (!existsSync(path)) {
    mkdirSync(directory, { recursive: true });
    console.log(`making ${path} …`);
    makeTestModel({ shape: "tinyllama-1.1b", quant: "q4_0", seed: 1, out: path });
  }
  return path;
}

async function inProcess(
  modelPath: string,
  threads: number,
  tokens: number,
  reps: number,
): Promise<GenerationTiming[]> {
  const llama = await getLlama({ gpu: false, build: "never", maxThreads: threads });
  try {
    const model = await llama.loadModel({ modelPath });
    const context = await model.createContext({ contextSize: 2048, threads: { ideal: threads, min: threads } });
    const sequence = context.getSequence();
    const timings: GenerationTiming[] = [];
    for (let rep = 0; rep <= reps; rep++) {
      const promptTokens = [model.tokens.bos as Token, ...model.tokenize(promptFor(rep), false)];
      await sequence.clearHistory();
      const startedAt = performance.now();
      const times: number[] = [];
      for await (const _token of sequence.evaluate(promptTokens, { temperature: 0 })) {
        times.push(performance.now());
        if (times.length >= tokens) break;
      }
      if (rep > 0) timings.push(timingFrom(startedAt, times)); // rep 0 warms up
    }
    return timings;
  } finally {
    await llama.dispose();
  }
}

function daemonArgs(modelPath: string, threads: number, extra: string[]): string[] {
  return [
    "--model.path",
    modelPath,
    "--backend.threads",
    String(threads),
    "--scheduler.parallelSequences",
    "1",
    "--ws.port",
    "0",
    ...extra,
  ];
}

async function overWebSocket(
  modelPath: string,
  threads: number,
  tokens: number,
  reps: number,
): Promise<GenerationTiming[]> {
  const daemon = new DaemonProcess(daemonArgs(modelPath, threads, ["--mqtt.enabled", "false"]));
  const url = await daemon.start(300_000);
  const client = await ProtocolClient.connect(url);
  const timings: GenerationTiming[] = [];
  try {
    for (let rep = 0; rep <= reps; rep++) {
      const id = `bench${rep}`;
      const times: number[] = [];
      const onMessage = (data: unknown) => {
        if (String(data).includes(`"type":"token","id":"${id}"`)) times.push(performance.now());
      };
      client.socket.on("message", onMessage);
      const startedAt = performance.now();
      const answer = await client.request({ id, prompt: promptFor(rep), max_tokens: tokens, temperature: 0 }, 600_000);
      client.socket.off("message", onMessage);
      if (answer.final.type !== "done") throw new Error(`daemon answered ${JSON.stringify(answer.final)}`);
      if (rep > 0) timings.push(timingFrom(startedAt, times));
    }
  } finally {
    await client.close();
    await daemon.stop();
  }
  return timings;
}

async function overMqtt(modelPath: string, threads: number, tokens: number, reps: number): Promise<GenerationTiming[]> {
  const broker = new MosquittoBroker();
  await broker.start();
  const daemon = new DaemonProcess(
    daemonArgs(modelPath, threads, [
      "--ws.enabled",
      "false",
      "--ws.port",
      "0",
      "--mqtt.url",
      broker.url,
      "--mqtt.nodeId",
      "bench",
    ]),
  );
  await daemon.start(300_000);
  const client = await MqttProbeClient.connect(broker.url);
  const timings: GenerationTiming[] = [];
  try {
    await client.subscribe("bench-replies/#");
    for (let rep = 0; rep <= reps; rep++) {
      const id = `mqtt-bench-${Date.now()}-${rep}`;
      const times: number[] = [];
      const onMessage = (_topic: string, payload: Buffer) => {
        if (payload.includes(`"type":"token","id":"${id}"`)) times.push(performance.now());
      };
      client.client.on("message", onMessage);
      const startedAt = performance.now();
      await client.publish(
        "tinyllamad/bench/request",
        { type: "generate", id, prompt: promptFor(rep), max_tokens: tokens, temperature: 0 },
        { properties: { responseTopic: `bench-replies/${id}` } },
      );
      const final = await client.final(id, 600_000);
      client.client.off("message", onMessage);
      if (final.type !== "done") throw new Error(`daemon answered ${JSON.stringify(final)}`);
      if (rep > 0) timings.push(timingFrom(startedAt, times));
    }
  } finally {
    await client.end();
    await daemon.stop();
    await broker.dispose();
  }
  return timings;
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
  const local = await inProcess(modelPath, threads, tokens, reps);
  const webSocket = await overWebSocket(modelPath, threads, tokens, reps);
  const viaMqtt = await overMqtt(modelPath, threads, tokens, reps);
  const row = (name: string, runs: GenerationTiming[]) => {
    const decode = summarize(runs.map((r) => r.decodeTokensPerSecond));
    const ttft = summarize(runs.map((r) => r.ttftMs));
    return { name, decode, ttft };
  };
  const rows = [
    row("node-llama-cpp in-process", local),
    row("tinyllamad over WebSocket", webSocket),
    row("tinyllamad over MQTT", viaMqtt),
  ];
  for (const { name, decode, ttft } of rows) {
    console.log(
      `${name.padEnd(28)} decode ${decode.median.toFixed(2)} tok/s (${decode.min.toFixed(2)}–${decode.max.toFixed(2)})` +
        `  TTFT ${ttft.median.toFixed(1)} ms (${ttft.min.toFixed(1)}–${ttft.max.toFixed(1)})`,
    );
  }
  const [base, ...others] = rows;
  for (const other of base ? others : []) {
    if (!base) break;
    const transport = other.name.replace("tinyllamad over ", "");
    console.log(
      `ratio ${transport} / in-process: decode ${(other.decode.median / base.decode.median).toFixed(3)}×, ` +
        `TTFT ${(other.ttft.median / base.ttft.median).toFixed(3)}×`,
    );
  }
}

await main();
